"""What the training and scoring commands print: data, metrics, the gate's decision, the audience.

Shared by ``upseg train``, ``upseg score`` and ``upseg demo``; heavy modules load only when a
report is printed.
"""

from __future__ import annotations

from rich.table import Table

from upseg.pipelines._console import console, err_console


def _print_registration(name: str, run, uri: str) -> None:
    """The registered version, its alias and why, and where to browse the run."""
    from upseg.models.tracking import ui_command

    alias = "@champion" if run.decision.promote else "@challenger"
    colour = "green" if run.decision.promote else "yellow"
    console.print(
        f"Registered [bold]{name}[/] version {run.version} as [{colour}]{alias}[/]: "
        f"{run.decision.reason}.",
        highlight=False,
    )
    console.print(f"MLflow run {run.run_id} ({run.seconds:.0f}s). To browse: {ui_command(uri)}")


def _metrics_table(run) -> Table:
    from upseg.models.evaluation import METRIC_DIRECTIONS

    table = Table(title="Held-out test customers", title_justify="left")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("recency baseline", justify="right")
    if run.champion:
        table.add_column("champion", justify="right")
    for name in METRIC_DIRECTIONS:
        row = [name, f"{run.metrics[name]:.4f}", f"{run.baseline[name]:.4f}"]
        if run.champion:
            row.append(f"{run.champion[name]:.4f}")
        table.add_row(*row)
    return table


def report_training_run(run, uri: str) -> None:
    """Print what a training run did: data, tuning, metrics, and the gate's decision."""
    from upseg.models.dataset import TASKS

    data, s = run.data, run.settings
    counts = data.frame["role"].value_counts()
    if data.out_of_time:
        split = (
            f"training cutoffs {', '.join(f'{d:%Y-%m-%d}' for d in data.train_as_of)}; "
            f"holdout cutoff {data.holdout_as_of:%Y-%m-%d}"
        )
    else:
        split = f"one cutoff {data.holdout_as_of:%Y-%m-%d}, customers split (not out of time)"
    console.print(
        f"{s.task}: {TASKS[s.task].description}, horizon {data.horizon_days} days; {split}; "
        f"rows train {counts['train']:,} / valid {counts['valid']:,} / test {counts['test']:,}"
    )
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    if run.tuning.n_trials:
        t = run.tuning
        console.print(
            f"Optuna study {t.study_name!r}: {t.n_trials} trials ({t.n_complete} complete, "
            f"{t.n_pruned} pruned, {t.n_resumed} from an earlier run), best valid AUC "
            f"{t.best_value:.4f}"
        )
    console.print(_metrics_table(run))
    _print_registration(s.task, run, uri)


def report_uplift_run(run, uri: str) -> None:
    """Print the choice of approach, the held-out uplift metrics and the gate's decision."""
    data = run.data
    counts = data.frame["arm"].value_counts()
    console.print(
        f"uplift on {data.outcome} ({data.kind}): {len(data.frame):,} customers, arms "
        + ", ".join(f"{arm} {counts[arm]:,}" for arm in data.arms)
        + f"; {len(data.features)} features"
        + (f"; not features: {', '.join(data.ignored)}" if data.ignored else "")
    )
    selection, criterion = run.selection, run.selection.criterion
    if selection.losses is None:
        choice = Table(
            title="Approach by cross-validated Qini (training customers)", title_justify="left"
        )
        for column in ("approach", "mean Qini", "sd"):
            choice.add_column(column, justify="left" if column == "approach" else "right")
        for row in selection.summary().itertuples():
            mark = " ←" if row.approach == selection.best else ""
            choice.add_row(f"{row.approach}{mark}", f"{row.mean:.4f}", f"{row.std:.4f}")
    else:
        choice = Table(
            title=f"Approach by cross-validated {criterion}, lower is better (training customers)",
            title_justify="left",
        )
        columns = (
            f"mean {criterion}",
            "gap to lowest",
            "SE of gap",
            "within 1 SE",
            "mean Qini",
            "trees/variant",
        )
        choice.add_column("approach")
        for column in columns:
            choice.add_column(column, justify="right")
        for row in selection.losses.itertuples():
            mark = " ←" if row.approach == selection.best else ""
            choice.add_row(
                f"{row.approach}{mark}",
                f"{row.loss:.5g}",
                f"{row.gap:.2g}",
                f"{row.se_gap:.2g}",
                "yes" if row.within_one_se else "no",
                f"{row.qini_mean:.4f}",
                f"{row.trees:,.0f}" if row.trees == row.trees else "?",
            )
    console.print(choice)
    console.print(f"Chose {selection.best}: {selection.chosen_by}.", highlight=False)
    if run.tuning.n_trials:
        t = run.tuning
        kept = "tuned parameters used" if run.params else "defaults kept (no trial beat them)"
        console.print(
            f"Optuna study {t.study_name!r}: {t.n_trials} trials ({t.n_resumed} from an "
            f"earlier run), best CV {criterion} {t.best_value:.5g}; {kept}"
        )
    held = Table(title="Held-out customers, per variant against control", title_justify="left")
    for column in ("variant", "Qini", "95% CI", "AUUC", "uplift@10%", "uplift@20%", "uplift@30%"):
        held.add_column(column, justify="left" if column == "variant" else "right")
    for variant, m in run.per_variant.iterrows():
        held.add_row(
            str(variant),
            f"{m['qini_auc']:.4f}",
            f"[{m['qini_auc_ci_low']:.4f}, {m['qini_auc_ci_high']:.4f}]",
            f"{m['auuc']:.4f}",
            f"{m['uplift_at_10']:.4f}",
            f"{m['uplift_at_20']:.4f}",
            f"{m['uplift_at_30']:.4f}",
        )
    console.print(held)
    o = run.overall
    console.print(
        f"Sending each customer their best variant (or nothing): mean {data.outcome} "
        f"{o['policy_value']:.4g} against {o['control_value']:.4g} for no e-mail and "
        f"{o['best_arm_value']:.4g} for the best single arm."
    )
    if run.truth:
        console.print(
            "Against the synthetic truth: "
            + ", ".join(f"{k.removeprefix('truth_')} {v:.3f}" for k, v in run.truth.items())
        )
    _print_sizes(run)
    console.print(f"Uplift explanation: surrogate R² {run.surrogate_r2:.2f} (SHAP in MLflow).")
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    _print_registration(run.settings.model_name, run, uri)


def _print_sizes(run) -> None:
    """The calibration of the uplift's sizes, then its check on the held-out customers."""
    if run.calibration is None or run.sizes is None:
        return
    scale, unit = (100.0, " pts") if run.data.kind == "binary" else (1.0, "")
    sized = Table(
        title="Sizes: calibrated on the training customers (cross-fitted)", title_justify="left"
    )
    for column in ("variant", "average effect", "BLP slope", "applied", "tenths helped / hurt"):
        sized.add_column(column, justify="left" if column == "variant" else "right")
    for variant, c in run.calibration.summary().iterrows():
        tenths = int(c["groups_positive"] + c["groups_negative"] + c["groups_uncertain"])
        sized.add_row(
            str(variant),
            f"{scale * c['ate']:+.2f} ± {scale * c['ate_se']:.2f}{unit}",
            f"{c['blp_slope']:.2f} ± {c['blp_slope_se']:.2f}",
            f"{c['slope_applied']:.2f}",
            f"{int(c['groups_positive'])} / {int(c['groups_negative'])} of {tenths}",
        )
    console.print(sized)
    checked = Table(
        title=f"Held-out customers: incremental {run.data.outcome}, predicted vs realised "
        "(± standard error)",
        title_justify="left",
    )
    for column in ("variant", "predicted", "realised", "top 20%: predicted", "realised "):
        checked.add_column(column, justify="left" if column == "variant" else "right")
    for variant, h in run.sizes.iterrows():
        checked.add_row(
            str(variant),
            f"{h['predicted']:,.1f}",
            f"{h['realised']:,.1f} ± {h['realised_se']:,.1f}",
            f"{h['top_predicted']:,.1f}",
            f"{h['top_realised']:,.1f} ± {h['top_realised_se']:,.1f}",
        )
    console.print(checked)
    console.print(
        "The scorer uses the calibrated uplift (with a slope near 0, about the average effect in "
        "the model's order) and holds a customer back as a sleeping dog only in a tenth every "
        "variant credibly hurts.",
        highlight=False,
    )


#: Suppression reasons of the frequency cap: not shown when the policy turned it off.
_CAP_REASONS = ("frequency_cap", "min_gap")


def _suppression_line(counts: dict[str, int], settings: dict) -> str:
    """``suppressed N: <reason> n, …`` and the rules' settings (the frequency cap, or off)."""
    cap = settings.get("frequency_cap")
    shown = {k: v for k, v in counts.items() if cap or k not in _CAP_REASONS}
    line = f"suppressed {sum(counts.values()):,}: " + ", ".join(
        f"{k} {v:,}" for k, v in shown.items()
    )
    if not settings:
        return line
    rules = (
        f"at most {cap['max_emails']} e-mails in {cap['window_days']} days, "
        f"{cap['min_gap_hours']:g} h apart"
        if cap
        else "frequency cap off"
    )
    return f"{line} ({rules}; {settings['soft_bounce_streak']} soft bounces in a row)"


def report_scoring_run(run) -> None:
    """Print the audience by segment and action, reconciliation, economics and warnings."""
    s = run.settings
    console.print(
        f"{run.customers_scored:,} customers scored for {s.campaign} as of {s.as_of:%Y-%m-%d} "
        f"with {run.model_versions} → {s.out} ({run.seconds:.0f}s)"
    )
    table = Table(title="Audience by segment and action", title_justify="left")
    actions = [a for a in ("send", "holdout", "skip", "suppress") if a in run.segments.columns]
    table.add_column("priority segment")
    for a in actions:
        table.add_column(a, justify="right")
    for row in run.segments.itertuples(index=False):
        values = row._asdict()
        table.add_row(str(values["segment"]), *(f"{values[a]:,}" for a in actions))
    table.add_row("[bold]total[/]", *(f"[bold]{run.actions.get(a, 0):,}[/]" for a in actions))
    console.print(table)
    console.print(
        f"customers: {run.customers_eligible:,} signed up before as-of = {run.customers_scored:,} "
        f"in the audience = " + " + ".join(f"{n:,} {a}" for a, n in run.actions.items())
    )
    if run.suppression:
        console.print(_suppression_line(run.suppression, run.suppression_settings), highlight=False)
    a, e = run.economics["audience"], run.economics["everyone"]
    console.print(
        f"expected incremental conversions: {a['incremental_conversions']:,.1f} from the "
        f"{a['customers']:,} sent, {e['incremental_conversions']:,.1f} if all {e['customers']:,} "
        "who may be e-mailed were sent (model expectations, not measured lift)"
    )
    if run.settings.value_per_conversion is not None:
        console.print(
            f"expected incremental profit: {a['incremental_profit']:,.2f} from the audience, "
            f"{e['incremental_profit']:,.2f} from sending to all who may be e-mailed"
        )
    if run.changes is not None:
        console.print(
            "since the previous run: " + ", ".join(f"{k} {v:,}" for k, v in run.changes.items())
        )
    if run.uplift_source.get("message"):
        console.print(f"[yellow]{run.uplift_source['message']}[/]", highlight=False)
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    console.print(f"summary: {run.summary_path}")


def report_clv_run(run, uri: str) -> None:
    """Print the CLV run: data, every predictor's held-out metrics, the choice and the gate."""
    data, s = run.data, run.settings
    counts = data.frame["role"].value_counts()
    console.print(
        f"clv: revenue in the {s.horizon_days} days after each cutoff, discounted at "
        f"{s.discount_rate:g} a year; holdout cutoff {data.holdout_as_of:%Y-%m-%d}; rows train "
        f"{counts['train']:,} / valid {counts['valid']:,} / test {counts['test']:,}"
    )
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    names = {
        "probabilistic": "BG/NBD + Gamma-Gamma",
        "lightgbm": f"LightGBM ({run.fit.loss})" if run.fit.loss else "LightGBM",
        "baseline": "last year's spend",
    }
    table = Table(title="Held-out test customers", title_justify="left")
    table.add_column("metric")
    shown = [k for k in names if k in run.test]
    for key in shown:
        mark = " ←" if key == run.fit.model.served else ""
        table.add_column(names[key] + mark, justify="right")
    if run.champion:
        table.add_column("champion", justify="right")
    for metric in (
        "gini",
        "spearman",
        "top_decile_capture",
        "decile_error",
        "mae",
        "rmse",
        "bias_pct",
    ):
        row = [metric, *(f"{run.test[k][metric]:.4f}" for k in shown)]
        if run.champion:
            row.append(f"{run.champion[metric]:.4f}")
        table.add_row(*row)
    console.print(table)
    served = run.test["served"]
    console.print(
        f"Serving {names[run.fit.model.served]} ({run.fit.reason}); predicted "
        f"{served['predicted_total']:,.0f} against {served['realised_total']:,.0f} realised "
        f"({served['bias_pct']:+.1f}%).",
        highlight=False,
    )
    if run.truth:
        console.print(
            "Against the world's expected revenue: "
            + "; ".join(
                f"{names.get(key, key)} Spearman {run.truth[f'truth_{key}_spearman']:.3f}, "
                f"top-decile share {run.truth[f'truth_{key}_top_decile_share']:.3f}"
                for key in shown
                if f"truth_{key}_spearman" in run.truth
            ),
            highlight=False,
        )
    _print_registration("clv", run, uri)
