"""Operator commands (PRODUCT.md §10)."""

from __future__ import annotations

import sys

import click
from flask import current_app

from portal.extensions import db


def register(app) -> None:
    from portal.production import cli as production_cli

    production_cli.register(app)

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option(
        "--role",
        required=True,
        type=click.Choice(["dealer_staff", "dealer_admin", "region_manager", "channel_manager", "finance", "hq_admin"]),
    )
    @click.option("--dealer", "dealer_code", default=None, help="dealer code (dealer roles)")
    @click.option("--region", "region_code", default=None, help="region code (region_manager)")
    @click.option("--locale", default="zh_CN", type=click.Choice(["zh_CN", "en"]))
    def create_user(username, role, dealer_code, region_code, locale):
        """Create a user; the password is read from standard input."""
        from portal.dealers import services
        from portal.platform.errors import Invalid
        from portal.platform.uow import commit

        password = (
            sys.stdin.readline().rstrip("\n")
            if not sys.stdin.isatty()
            else click.prompt("Password", hide_input=True, confirmation_prompt=True)
        )
        try:
            services.create_user(
                None,
                {
                    "username": username,
                    "password": password,
                    "role": role,
                    "dealer_code": dealer_code,
                    "region_code": region_code,
                    "locale": locale,
                },
            )
            commit()
        except Invalid as exc:
            db.session.rollback()
            for field, messages in exc.fields.items():
                click.echo(f"error: {field}: {' '.join(messages)}", err=True)
            sys.exit(1)
        click.echo(f"created user {username} ({role})")

    @app.cli.command("create-token")
    @click.argument("name")
    @click.option("--scope", required=True, type=click.Choice(["production", "erp"]))
    def create_token(name, scope):
        """Print a new integration token (only its hash is stored)."""
        from portal.platform.auth import issue_integration_token
        from portal.platform.uow import commit

        raw = issue_integration_token(name, scope)
        commit()
        click.echo(raw)

    @app.cli.command("demo")
    @click.option("--reset", is_flag=True, help="drop all data first (asks no question)")
    def demo(reset):
        """Load the demo channel into the configured database."""
        from portal import demo as demo_module

        demo_module.load(reset=reset, echo=click.echo)

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="exit when the queue is empty")
    @click.option("--cron/--no-cron", default=True, help="also run the schedule (daily scan, monthly run)")
    @click.option("--fork/--no-fork", default=False, help="fork a work horse per job (default: inline)")
    def worker(burst, cron, fork):
        """Start an RQ worker on REDIS_URL, with RQ's cron scheduler for the daily and monthly jobs."""
        import logging
        import multiprocessing
        import os

        from rq import SimpleWorker, Worker

        from portal import jobs
        from portal.extensions import db
        from portal.jobs import QUEUE_NAME, redis_connection

        if not current_app.config.get("REDIS_URL"):
            raise click.ClickException("REDIS_URL is not set: without Redis, jobs run in-process and need no worker.")
        # Jobs run in this app, built once. By default they run inline (RQ's SimpleWorker): the connection pool, the
        # compiled SQL and the loaded PDF font serve every job, where a forked horse per job would build them again
        # (measured: ~0.4 s more per statement). --fork isolates each job instead; a forked horse then opens database
        # connections of its own rather than sharing the parent's sockets.
        jobs._worker_app = current_app._get_current_object()
        lower_priority(current_app.config["PORTAL_WORKER_NICE"])
        engine = db.engine
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        jobs.warm_up()
        scheduler = None
        if cron and not burst:
            scheduler = multiprocessing.get_context("spawn").Process(target=run_cron, daemon=True)
            scheduler.start()
        worker_class = Worker if fork else SimpleWorker
        rq_worker = worker_class([QUEUE_NAME], connection=redis_connection(current_app))
        beat = current_app.config["PORTAL_WORKER_HEARTBEAT_SECONDS"]
        alive = jobs.keep_alive(rq_worker.connection, rq_worker.name, beat)  # jobs.interruption() reads it
        try:
            try:  # what a worker that died (this one, before a restart?) left behind is reported
                jobs.check_interrupted_jobs()
            except Exception:  # the schedule checks again; the worker starts all the same
                logging.getLogger("portal.jobs").exception("the check for interrupted jobs failed")
            rq_worker.work(with_scheduler=True, burst=burst)
        finally:
            alive.set()
            if scheduler is not None:
                scheduler.terminate()


def lower_priority(nice: int) -> int:
    """Lower this process's CPU priority by `nice` (PORTAL_WORKER_NICE): a batch job (a statement run renders a PDF
    per dealer) then takes the CPU the web processes leave, instead of making every page wait behind it on a machine
    they share. The niceness reached (children, e.g. `--fork`'s work horses, inherit it)."""
    import logging
    import os

    reached = os.nice(nice) if nice else os.nice(0)
    if nice:
        logging.getLogger("portal.jobs").info("worker CPU priority lowered: nice %s", reached)
    return reached


def run_cron() -> None:
    """The schedule (RQ's CronScheduler, in its own process): the daily overdue scan at PORTAL_OVERDUE_SCAN_CRON."""
    from rq.cron import CronScheduler

    from portal import create_app
    from portal.jobs import QUEUE_NAME, check_interrupted_jobs, redis_connection
    from portal.jobs.mail import SWEEP_TIMEOUT, sweep
    from portal.jobs.overdue import scheduled_scan
    from portal.jobs.retention import scheduled_purge
    from portal.jobs.statements import scheduled_monthly_run

    app = create_app()
    scheduler = CronScheduler(connection=redis_connection(app))
    schedule = (
        (scheduled_scan, "PORTAL_OVERDUE_SCAN_CRON", 3600, "daily-overdue-scan"),
        (scheduled_monthly_run, "PORTAL_STATEMENT_RUN_CRON", 3600, "monthly-statement-run"),
        (check_interrupted_jobs, "PORTAL_JOB_CHECK_CRON", 600, "interrupted-jobs-check"),
        (sweep, "PORTAL_MAIL_SWEEP_CRON", SWEEP_TIMEOUT, "mail-sweep"),
        (scheduled_purge, "PORTAL_UPLOAD_PURGE_CRON", 600, "upload-purge"),
    )
    for func, cron_setting, timeout, name in schedule:
        scheduler.register(func, QUEUE_NAME, cron=app.config[cron_setting], job_timeout=timeout, name=name)
    scheduler.start()
