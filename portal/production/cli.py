"""`flask simulate-line`: the line simulator (portal/production/simulator.py) as an operator command."""

from __future__ import annotations

import click


def register(app) -> None:
    @app.cli.command("simulate-line")
    @click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="the portal to post to")
    @click.option(
        "--token",
        envvar="PORTAL_PRODUCTION_TOKEN",
        required=True,
        help="a production token (flask create-token NAME --scope production); or PORTAL_PRODUCTION_TOKEN",
    )
    @click.option(
        "--speed",
        default=3600.0,
        show_default=True,
        type=click.FloatRange(min=0.001),
        help="how many times faster than real time the factory runs",
    )
    @click.option("--once", is_flag=True, help="one pass over the open units, then exit")
    @click.option(
        "--tick", default=2.0, show_default=True, type=click.FloatRange(min=0.1), help="seconds between passes"
    )
    @click.option("--batch", "batch_size", default=1000, show_default=True, type=click.IntRange(1, 1000))
    @click.option("--stages", default=None, help="the stage list if the portal's differs from this configuration")
    def simulate_line(url, token, speed, once, tick, batch_size, stages):
        """Play realistic stage events for the open units through the HTTP API (never the database)."""
        from flask import current_app

        from portal.production.simulator import ApiError, run
        from portal.production.stages import parse

        stage_list = parse(stages or current_app.config["PORTAL_BUILD_STAGES"])
        try:
            totals = run(
                url, token, stage_list, speed=speed, once=once, tick=tick, batch_size=batch_size, echo=click.echo
            )
        except (ApiError, OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            return
        click.echo(
            f"done: {totals['accepted']} accepted, {totals['duplicate']} duplicate, "
            f"{totals['rejected']} rejected in {totals['batches']} batches"
        )
