"""``rdagen sweep``: a design-space sweep (explore/): the ArrayConfig points of SPEC.toml, each workload
mapped and measured by the cost model, on Dask; results kept in a store as they come, then a table and
Pareto plots."""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, progress

NAME = "sweep"
HELP = ("design-space sweep: the array points and workloads of SPEC.toml measured by the cost model on "
        "Dask (local cluster by default); results stored as they come (a stopped sweep resumes), then "
        "results.csv/.md and Pareto plots")


def add_arguments(p) -> None:
    p.add_argument("spec", nargs="?", default=None, help="the sweep's TOML spec (format: docs 'Design-space sweeps')")
    p.add_argument("--store", default=None,
                   help="the results store (SQLite; default SPEC with the suffix .sweep.sqlite, beside the spec)")
    p.add_argument("--scheduler", default="local",
                   help="local (default: a Dask LocalCluster on this machine), tcp://HOST:PORT (a running Dask "
                        "scheduler), or slurm, lsf, pbs (dask-jobqueue, with the spec's [jobqueue] settings)")
    p.add_argument("--workers", type=int, default=None,
                   help="local: worker processes (default one per core); slurm/lsf/pbs: jobs (default 1)")
    p.add_argument("--out", default=None, help="where the table and plots go (default SPEC's stem + '.sweep/')")
    p.add_argument("--report", default=None, metavar="STORE",
                   help="redraw the table and plots from STORE without running anything (no SPEC)")


def run(args) -> int:
    from rdagen.explore.execute import check_scheduler, client_for, run_sweep
    from rdagen.explore.spec import SpecError, load_spec
    from rdagen.explore.store import Store, StoreError

    if args.report:
        if args.spec:
            raise UsageError("--report STORE redraws a stored sweep: give no SPEC")
        try:
            with Store(args.report, create=False) as store:
                rows = store.rows()
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        _report(rows, Path(args.out) if args.out else Path(args.report).with_suffix("").with_suffix(".sweep"))
        return 0
    if not args.spec:
        raise UsageError("give SPEC.toml (or --report STORE)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be >= 1")
    try:
        sweep = load_spec(args.spec)
        check_scheduler(args.scheduler)
    except SpecError as exc:
        raise UsageError(str(exc) if str(exc).startswith(args.spec) else f"{args.spec}: {exc}") from None
    spec = Path(args.spec)
    store_path = Path(args.store) if args.store else spec.with_suffix(".sweep.sqlite")
    out = Path(args.out) if args.out else spec.with_suffix(".sweep")
    log = progress("[sweep] ")
    try:
        store = Store(store_path)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    with store:
        store.set_meta(spec=spec.read_text(), spec_path=str(spec.resolve()))
        try:
            with client_for(args.scheduler, args.workers, sweep.jobqueue) as client:
                counts = run_sweep(sweep, store, client, log)
        except KeyboardInterrupt:
            print(f"stopped: {len(store.keys())} tasks stored in {store_path}; run the same command again to finish",
                  flush=True)
            return 130
        rows = store.rows()
    keys = {t.key for t in sweep.tasks()}
    rows = [r for r in rows if r["key"] in keys]  # a store shared with another spec keeps its other rows
    print(f"{counts['tasks']} tasks: {counts['stored_before']} stored before, {counts['ok']} ok, {counts['refused']} "
          f"refused, {counts['failed']} failed this run; store {store_path}")
    _report(rows, out)
    return 1 if any(r["status"] == "failed" for r in rows) else 0


def _report(rows: list[dict], out: Path) -> None:
    from rdagen.explore.report import write_report

    for path in write_report(rows, out):
        print(f"wrote {path}")
