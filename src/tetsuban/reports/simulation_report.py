"""simulation.html: label-efficiency curves of each strategy and the labels each needs to reach an accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tetsuban.active.simulate import Curve, labels_to_reach, mean_curves, run_name
from tetsuban.files import write_atomic
from tetsuban.reports.inline import curves_uri
from tetsuban.templating import report_templates

BASELINE = "random"


def baseline_run(names: Sequence[str]) -> str | None:
    """The run the others are measured against: random picks with the probe alone (labelling without a loop),
    else random picks with whichever head ran first; None without random picks."""
    plain = run_name(BASELINE, "probe")
    if plain in names:
        return plain
    return next((name for name in names if name.startswith(run_name(BASELINE, ""))), None)


def reach_table(curves: Sequence[Curve]) -> tuple[list[float], dict[str, list[int | None]]]:
    """Targets (the baseline's mean accuracy at a few of its label counts, else fixed steps) and, per strategy and
    head, the fewest labels at which its mean curve reaches each."""
    means = mean_curves(curves)
    baseline = baseline_run(list(means))
    if baseline is not None:
        counts, accuracy, _ = means[baseline]
        picks = sorted({len(counts) - 1, (len(counts) - 1) // 2, (len(counts) - 1) // 4})
        targets = [float(accuracy[i]) for i in picks]
    else:
        top = max(float(m[1].max()) for m in means.values())
        targets = [round(top - d, 3) for d in (0.05, 0.02, 0.0)]
    table = {name: [labels_to_reach(c, a, t) for t in targets] for name, (c, a, _) in means.items()}
    return targets, table


def write_simulation_report(out: Path, project_name: str, curves: Sequence[Curve], setup: Mapping[str, object]) -> Path:
    """Render the curves of a simulation (mean and spread over seeds) and the reach table into ``out``."""
    means = mean_curves(curves)
    length = min((len(m[0]) for m in means.values()), default=0)  # a strategy that ran out of images stops early
    means = {name: (c[:length], a[:length], d[:length]) for name, (c, a, d) in means.items()}
    targets, table = reach_table(curves)
    environment = report_templates()
    html = environment.get_template("simulation.html.j2").render(
        name=project_name,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        setup=setup,
        chart=curves_uri(
            means,
            "test accuracy against labels (mean, band: one standard deviation over seeds)",
            "labels",
            "test accuracy",
        ),
        steps=[int(n) for n in next(iter(means.values()))[0]] if means else [],
        means={name: [float(a) for a in m[1]] for name, m in means.items()},
        spreads={name: [float(s) for s in m[2]] for name, m in means.items()},
        targets=targets,
        table=table,
        baseline=baseline_run(list(means)),
    )
    write_atomic(out, html.encode("utf-8"))
    return out
