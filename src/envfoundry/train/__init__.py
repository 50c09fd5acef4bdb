"""Training through the trainers people use: TRL's GRPOTrainer, fed by the curriculum."""
