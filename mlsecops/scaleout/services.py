"""Real local services for the scale-out profile: Postgres, an MLflow tracking server, a Dask cluster.

    with ScaledServices.start(home, workers=2) as svc:
        svc.dagster_pg_url, svc.mlflow_uri, svc.scheduler_address
        svc.kill_worker("worker-0")   # SIGKILL one worker process (its nanny starts a new one)

Everything binds to 127.0.0.1 on free ports; Postgres runs as a private cluster in a temp folder
(as the `postgres` user when started by root, since Postgres refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mlsecops.core.errors import MlsecopsError
from mlsecops.core.home import Home
from mlsecops.core.offline import offline_env

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DATABASES = ("dagster", "mlflow", "audit")


class ServiceError(MlsecopsError):
    """A scale-out service (Postgres, MLflow server, Dask) could not start or stopped."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _wait(what: str, ready, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ServiceError(f"{what} exited with status {proc.returncode} while starting; log {log}:\n{tail}")
        try:
            if ready():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.3)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f} s (log: {log})")


def postgres_bindir() -> Path:
    """`MLSECOPS_PG_BIN`, else the newest Debian `/usr/lib/postgresql/*/bin`, else `initdb` on PATH."""
    candidates = [os.environ.get("MLSECOPS_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    raise ServiceError("no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's `postgresql` "
                       "package or set MLSECOPS_PG_BIN to the folder holding them")


@dataclass
class Postgres:
    """A private Postgres cluster on a loopback port, password-authenticated (scram-sha-256)."""

    folder: Path
    port: int
    password: str
    user: str = "mlsecops"
    run_as: str | None = None

    @classmethod
    def start(cls, timeout: float = 60.0) -> "Postgres":
        import psycopg2

        bindir = postgres_bindir()
        run_as = "postgres" if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="mlsecops-pg-"))
        pg = cls(folder, free_port(), secrets.token_urlsafe(18), run_as=run_as)
        pwfile = folder / "pw"
        pwfile.write_text(pg.password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        if run_as:
            shutil.chown(folder, run_as)
            shutil.chown(pwfile, run_as)
        pg._call([str(bindir / "initdb"), "-D", str(pg.data), "-U", pg.user, "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync", "--no-instructions"], "initdb")
        pwfile.unlink()
        options = f"-c listen_addresses={LOOPBACK} -p {pg.port} -c unix_socket_directories='' -c max_connections=200"
        pg._call([str(bindir / "pg_ctl"), "-D", str(pg.data), "-l", str(pg.log), "-o", options, "-w",
                  "-t", str(int(timeout)), "start"], "pg_ctl start")
        pg.bindir = bindir
        conn = psycopg2.connect(pg.url("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in DATABASES:
                cur.execute(f"CREATE DATABASE {db}")
        conn.close()
        return pg

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, db: str) -> str:
        """libpq URL (psycopg2.connect)."""
        return f"postgresql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{db}"

    def sqlalchemy_url(self, db: str) -> str:
        """SQLAlchemy URL naming the driver: SQLAlchemy 2.1 defaults `postgresql://` to psycopg 3."""
        return self.url(db).replace("postgresql://", "postgresql+psycopg2://", 1)

    def _call(self, argv: list[str], what: str) -> None:
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--"] + argv
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=self.folder)
        if proc.returncode != 0:
            raise ServiceError(f"Postgres {what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-1500:]}")

    def stop(self) -> None:
        bindir = getattr(self, "bindir", None)
        if bindir is not None and self.data.exists():
            try:
                self._call([str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], "pg_ctl stop")
            except ServiceError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)


def _spawn(name: str, argv: list[str], logs: Path, env: dict[str, str]) -> _Proc:
    log = logs / f"{name}.log"
    handle = log.open("ab")
    popen = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
                             start_new_session=True)  # own process group: stop() ends it and its children
    handle.close()
    return _Proc(name, popen, log)


def service_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every service process: offline, quiet, this checkout's `mlsecops` first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    offline_env(env)  # telemetry off: `mlflow server` and the Dask workers may not import mlsecops first
    env.update({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


@dataclass
class ScaledServices:
    """Postgres + MLflow server (Postgres backend, proxied artifact store) + Dask scheduler and workers."""

    home: Home
    postgres: Postgres
    mlflow_uri: str
    scheduler_address: str
    logs: Path
    procs: dict[str, _Proc] = field(default_factory=dict)

    @classmethod
    def start(cls, home: Home, workers: int = 2, timeout: float = 120.0) -> "ScaledServices":
        home = home.ensure()
        logs = home.root / "scaled-logs"
        logs.mkdir(parents=True, exist_ok=True)
        pg = Postgres.start()
        svc = cls(home, pg, "", "", logs)
        try:
            svc._start_mlflow(timeout)
            svc._start_dask(workers, timeout)
        except BaseException:
            svc.stop()
            raise
        return svc

    @property
    def dagster_pg_url(self) -> str:
        return self.postgres.sqlalchemy_url("dagster")

    @property
    def artifacts_destination(self) -> Path:
        return self.home.root / "mlflow-artifacts"

    def env(self) -> dict[str, str]:
        """What the orchestrator and the workers need to reach the services."""
        return {"MLSECOPS_DAGSTER_PG_URL": self.dagster_pg_url, "MLFLOW_TRACKING_URI": self.mlflow_uri,
                "MLSECOPS_HOME": str(self.home.root), "MLSECOPS_AUDIT_URL": self.audit_url}

    @property
    def audit_url(self) -> str:
        return self.postgres.url("audit")

    def _start_mlflow(self, timeout: float) -> None:
        port = free_port()
        self.artifacts_destination.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "mlflow", "server", "--host", LOOPBACK, "--port", str(port),
                "--backend-store-uri", self.postgres.sqlalchemy_url("mlflow"),
                "--artifacts-destination", self.artifacts_destination.as_uri(), "--workers", "2"]
        proc = _spawn("mlflow", argv, self.logs, service_env())
        self.procs["mlflow"] = proc
        uri = f"http://{LOOPBACK}:{port}"
        _wait("MLflow server", lambda: urllib.request.urlopen(f"{uri}/health", timeout=2).status == 200,
              timeout, proc.popen, proc.log)
        self.mlflow_uri = uri

    def _start_dask(self, workers: int, timeout: float) -> None:
        from distributed import Client

        port = free_port()
        address = f"tcp://{LOOPBACK}:{port}"
        # A worker that dies while running a step fails that step's task at once (no silent re-run of
        # a half-finished step on another worker): Dagster sees the failure and fails the run.
        sched_env = service_env({"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
        proc = _spawn("dask-scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", LOOPBACK,
                                         "--port", str(port), "--no-dashboard"], self.logs, sched_env)
        self.procs["dask-scheduler"] = proc
        self.scheduler_address = address
        _wait("Dask scheduler", lambda: socket.create_connection((LOOPBACK, port), timeout=1).close() is None,
              timeout, proc.popen, proc.log)
        for i in range(workers):
            self.add_worker(f"worker-{i}")
        with Client(address, timeout=timeout) as client:
            client.wait_for_workers(workers, timeout=timeout)

    def add_worker(self, name: str) -> None:
        """Start one executor worker (nanny + single-threaded worker: Dagster steps are not thread-safe)."""
        argv = [sys.executable, "-m", "distributed.cli.dask_worker", self.scheduler_address, "--name", name,
                "--nthreads", "1", "--no-dashboard", "--host", LOOPBACK,
                "--local-directory", str(self.logs / f"{name}-scratch"),
                "--preload", "mlsecops.scaleout.preload"]
        self.procs[name] = _spawn(name, argv, self.logs, service_env(self.env()))

    def worker_pids(self) -> dict[str, int]:
        """name -> pid of each live worker process (not its nanny), as the scheduler sees them."""
        from distributed import Client

        with Client(self.scheduler_address, timeout=30) as client:
            info = client.scheduler_info(n_workers=-1)["workers"]
            pids = client.run(os.getpid)
        return {info[addr]["name"]: pid for addr, pid in pids.items() if addr in info}

    def kill_worker(self, name: str) -> int:
        """SIGKILL worker `name` (as a crash or an OOM kill would); its nanny starts a fresh one."""
        pid = self.worker_pids()[name]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        self.procs.clear()
        self.postgres.stop()

    def __enter__(self) -> "ScaledServices":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
