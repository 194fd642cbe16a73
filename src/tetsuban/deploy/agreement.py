"""Does the standalone graph predict what the model predicts? Both run on the same files: the model as
`tetsuban predict` runs it, the graph on the files' full decoded pixels, as a client without tetsuban would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tetsuban.deploy.preprocess_graph import IMAGE_INPUT
from tetsuban.errors import ImageError
from tetsuban.imaging.decode import decode
from tetsuban.learn.artifact import PROBABILITIES_NAME, Artifact
from tetsuban.learn.predict import run_model
from tetsuban.runtime import open_session

NEAR_TIE = 0.03  # the model's two most probable classes this close: a pixel rounded otherwise may swap them


@dataclass(frozen=True)
class GraphAgreement:
    """Over ``images`` files: how many got the same top class from both, how many a different one where the model's
    top two were a near tie (within NEAR_TIE), how many a different one otherwise, and the largest difference
    between the two's probabilities of any class."""

    images: int
    same: int
    near_ties: int
    different: int
    largest_difference: float

    @property
    def share(self) -> float:
        return self.same / self.images if self.images else 0.0


def graph_agreement(
    artifact: Artifact, graph: Path | bytes, files: Sequence[Path], workers: int = 1, fused: bool = True
) -> GraphAgreement:
    """Run ``graph`` (a standalone graph of ``artifact``; ``fused``: see :func:`open_session`) and the artifact on
    ``files`` and compare; files that cannot be decoded are left out."""
    session = open_session(graph, fused=fused)
    same = ties = different = 0
    largest = 0.0
    for batch in run_model(artifact, files, (PROBABILITIES_NAME,), workers):
        for result in batch:
            if result.outputs is None:
                continue
            try:
                pixels = decode(files[result.key])
            except (ImageError, OSError):
                continue
            ours = session.run([PROBABILITIES_NAME], {IMAGE_INPUT: pixels[np.newaxis]})[0][0]
            theirs = result.outputs[PROBABILITIES_NAME]
            largest = max(largest, float(np.abs(ours - theirs).max()))
            first, second = np.argsort(-theirs, kind="stable")[:2]
            if int(ours.argmax()) == first:
                same += 1
            elif int(ours.argmax()) == second and theirs[first] - theirs[second] < NEAR_TIE:
                ties += 1
            else:
                different += 1
    return GraphAgreement(same + ties + different, same, ties, different, largest)
