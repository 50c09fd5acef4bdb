"""Serving environments to trainers over the network (each module says what it serves)."""
