"""Read a run from a Hugging Face Hub model repository, ``hf://OWNER/NAME[@REVISION]``.

Everything goes through the Hugging Face cache (``HF_HUB_CACHE`` or ``HF_HOME``). At start the
revision is resolved to a commit and pinned, and everything but the weights is fetched with
``snapshot_download``: run.json, image copies, metrics, per-image values and predictions. For
the full paper matrix that is about 0.2 GB (an estimate), against 184 GB of weights. A weights
file is fetched with ``hf_hub_download`` when a view first needs it. With ``HF_HUB_OFFLINE=1``
both calls read the cache alone and fail for files that are not in it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import hf_hub_download, parse_hf_uri, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, HfUriError, HFValidationError

from dropseg import runs

from .store import RunStore, StoreError, VariantKey
from .weights import WeightsError

_logger = logging.getLogger(__name__)

__all__ = ["HUB_PREFIX", "HubLocation", "HubRunStore", "is_hub_location", "parse_hub_location"]

HUB_PREFIX = "hf://"
# Files that snapshot_download leaves for later: weights are fetched one by one on demand, and a
# resume.pt (training state) is never needed by the explorer.
LAZY_PATTERNS = ["*.safetensors", "*.pt"]
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubLocation:
    """A model repository id and the requested revision (branch, tag or commit; None for main)."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return HUB_PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "")


def is_hub_location(text: str | Path) -> bool:
    """Return True if ``--runs`` names a Hub repository rather than a local folder."""
    return str(text).startswith(HUB_PREFIX)


def parse_hub_location(text: str) -> HubLocation:
    """Parse ``hf://OWNER/NAME[@REVISION]`` with huggingface_hub's URI parser.

    Raises:
        ValueError: for a malformed URI, a dataset, Space or bucket URI, or a path inside the repo.
    """
    try:
        uri = parse_hf_uri(text)
    except HfUriError as error:
        raise ValueError(f"invalid --runs {text!r}: {error}; use hf://OWNER/NAME[@REVISION]") from None
    if uri.type != "model":
        raise ValueError(f"invalid --runs {text!r}: it names a {uri.type}; runs are model repositories")
    if uri.path_in_repo:
        raise ValueError(
            f"invalid --runs {text!r}: a path inside the repository is not supported; "
            "publish one run per repository and use hf://OWNER/NAME[@REVISION]"
        )
    return HubLocation(uri.id, uri.revision)


class HubRunStore(RunStore):
    """A :class:`RunStore` over a pinned snapshot of a Hub repository in the Hugging Face cache.

    The repository contains one run, at its top level, so its run name is ``.``.
    """

    def __init__(self, location: HubLocation, snapshot: Path) -> None:
        snapshot = Path(snapshot)
        # Cache layout: models--OWNER--NAME/snapshots/<commit>/<files>, files linked into ../../blobs.
        super().__init__(snapshot, boundary=snapshot.parent.parent)
        self.location = location
        self.commit = snapshot.name
        if not _COMMIT.match(self.commit):
            raise StoreError(f"{snapshot} is not a Hugging Face cache snapshot folder named by its commit")

    def run_label(self, run: str) -> str:
        return self.location.repo_id if run == "." else run

    @classmethod
    def open(cls, location: HubLocation) -> HubRunStore:
        """Resolve and pin the revision and fetch everything but the weights into the cache.

        Raises:
            StoreError: if the repository, revision or cached snapshot cannot be found; the
                message names the repository and what to do.
        """
        try:
            snapshot = snapshot_download(
                location.repo_id,
                repo_type="model",
                revision=location.revision,
                ignore_patterns=LAZY_PATTERNS,
            )
        except (OSError, EntryNotFoundError, HFValidationError) as error:
            raise StoreError(
                f"cannot read {location}: {str(error).rstrip('.')}. Check the repository id and revision, "
                "log in with `hf auth login` for a private repository, or unset HF_HUB_OFFLINE to download it"
            ) from None
        store = cls(location, Path(snapshot))
        _logger.info("reading %s at commit %s from %s", location, store.commit, snapshot)
        return store

    def weights_file(self, key: VariantKey, epoch: int) -> Path:
        """Fetch the weights of a finished epoch into the cache (unless there) and return the path."""
        relative = self.epoch_paths(key, epoch).weights.relative_to(self.root).as_posix()
        try:
            path = hf_hub_download(self.location.repo_id, relative, repo_type="model", revision=self.commit)
        except (OSError, EntryNotFoundError) as error:
            _logger.warning("cannot fetch %s of %s at %s: %s", relative, self.location, self.commit, error)
            raise WeightsError(
                f"weights of {key.variant} epoch {epoch} are not available from {self.location.repo_id} "
                f"at commit {self.commit[:12]} ({type(error).__name__}); the repository may keep weights "
                "of some epochs only (publish --weights), or they are not in the cache while offline. "
                "Pick another epoch"
            ) from None
        return self._checked(Path(path))

    def source_lines(self, run: str) -> list[str]:
        requested = self.location.revision or "main"
        return [
            f"- Hub repository: `{self.location.repo_id}`",
            f"- Revision: `{self.commit}` (requested `{requested}`, pinned at start)",
            f"- Cache folder: `{self.run_dir(run)}`",
        ]

    def format_problems(self, run: str) -> list[str]:
        """Return the format problems except missing weights, which are fetched only on demand."""
        # NOTE: matches the wording of dropseg.runs.validate_run for a missing weights file.
        missing_weights = f"{runs.WEIGHTS_FILE} missing"
        return [p for p in super().format_problems(run) if not p.endswith(missing_weights)]
