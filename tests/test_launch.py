"""Launch scripts: help, refusal of bad arguments, rendered manifests, Dockerfile, multi-host MPI."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

LAUNCH = REPO / "launch"
SCRIPTS = ["local.sh", "multinode.sh", "slurm.sh", "k8s.sh", "test_multihost.sh", "test_containers.sh"]


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=REPO, timeout=600, **kw)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_help(script):
    proc = sh(LAUNCH / script, "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stderr


@pytest.mark.parametrize("args, message", [
    (["local.sh", "-n", "0"], "RANKS must be a positive integer, got '0'"),
    (["multinode.sh", "-n", "4"], "missing -f HOSTFILE"),
    (["multinode.sh", "-f", "/nonexistent/hosts", "-n", "4"], "hostfile /nonexistent/hosts does not exist"),
    (["slurm.sh", "--nodes", "2"], "missing --logdir"),
    (["slurm.sh", "--logdir", "/tmp/x", "--time", "forever"], "--time must look like HH:MM:SS"),
    (["k8s.sh", "--image", "music-tf2", "--pvc", "logs"], "image 'music-tf2' has no tag"),
    (["k8s.sh", "--pvc", "logs"], "missing --image IMAGE:TAG"),
    (["k8s.sh", "--image", "a/music:1", "--pvc", "logs", "--workers", "0"], "--workers must be a positive integer"),
    (["test_multihost.sh", "--hosts", "1"], "--hosts must be at least 2"),
    (["test_containers.sh", "--image"], "--image needs a value"),
])
def test_bad_arguments_are_refused_with_a_message(args, message):
    proc = sh(LAUNCH / args[0], *args[1:])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr


def test_multinode_checks_every_host_before_starting(tmp_path):
    launcher = tmp_path / "fake_ssh"
    launcher.write_text("#!/bin/sh\nwhile [ \"${1#-}\" != \"$1\" ]; do shift; done\n[ \"$1\" != dead ]\n")
    launcher.chmod(0o755)
    hosts = tmp_path / "hosts"
    hosts.write_text("alive1\nalive2:8  # slots\n\n")
    proc = sh(LAUNCH / "multinode.sh", "-f", hosts, "-n", "4", "--launcher-exec", launcher, "--dry-run", "--",
              "--note", "SAC")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"-f \S*hosts -n 4 -ppn 2 -launcher ssh -launcher-exec \S*fake_ssh .*-m music.train --note SAC",
                     proc.stdout)
    hosts.write_text("alive1\ndead\n")
    proc = sh(LAUNCH / "multinode.sh", "-f", hosts, "-n", "2", "--launcher-exec", launcher, "--dry-run")
    assert proc.returncode == 2 and "host dead is unreachable" in proc.stderr
    proc = sh(LAUNCH / "multinode.sh", "-f", hosts, "-n", "9", "--ppn", "4", "--launcher-exec", launcher)
    assert proc.returncode == 2 and "9 ranks do not fit on 2 hosts with --ppn 4" in proc.stderr


def test_k8s_manifest_is_a_valid_mpijob():
    yaml = pytest.importorskip("yaml")
    proc = sh(LAUNCH / "k8s.sh", "--image", "reg.example:5000/music-tf2:0.1.0", "--pvc", "logs", "--name", "push-s0",
              "--workers", "3", "--ranks-per-worker", "4", "--dry-run", "--", "--env_name", "FetchPush-v1",
              "--param", 'load_weight="a b.pkl"')
    assert proc.returncode == 0, proc.stderr
    job = yaml.safe_load(proc.stdout)
    assert job["kind"] == "MPIJob" and job["spec"]["slotsPerWorker"] == 4
    launcher = job["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
    assert launcher["command"] == ["mpirun", "-n", "12", "python", "-m", "music.train", "--logdir",
                                   "/work/logs/push-s0", "--env_name", "FetchPush-v1",
                                   "--param", 'load_weight="a b.pkl"']
    assert job["spec"]["mpiReplicaSpecs"]["Worker"]["replicas"] == 3
    assert launcher["image"] == "reg.example:5000/music-tf2:0.1.0"
    # workers wait for the launcher in the image's non-root sshd, on the port its config and the probe name
    worker = job["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["/usr/sbin/sshd", "-De", "-f", "/home/music/.sshd_config"]
    sshd = (REPO / "launch" / "docker" / "sshd_config").read_text()
    ssh = (REPO / "launch" / "docker" / "ssh_config").read_text()
    assert worker["readinessProbe"]["tcpSocket"]["port"] == 2222 and "Port 2222" in sshd and "Port 2222" in ssh
    assert job["spec"]["sshAuthMountPath"] == "/home/music/.ssh" and "HostKey /home/music/.ssh/id_rsa" in sshd
    assert "/home/music/.sshd_config" in (REPO / "Dockerfile").read_text()


def test_slurm_submission_uses_srun_script():
    proc = sh(LAUNCH / "slurm.sh", "--logdir", "/shared/logs/x", "--nodes", "2", "--ranks-per-node", "16",
              "--dry-run", "--", "--note", "SAC")
    assert proc.returncode == 0, proc.stderr
    assert "sbatch --nodes 2 --ntasks-per-node 16" in proc.stdout and "slurm.sbatch --note SAC" in proc.stdout
    assert "srun --mpi=" in (LAUNCH / "slurm.sbatch").read_text()


def test_sweep_submission_orders_pretraining_with_dependencies(tmp_path):
    proc = sh(sys.executable, LAUNCH / "submit_sweep.py", "--family", "task_reward", "--variants", "SAC+MUSIC-f",
              "--tasks", "FetchSlide-v1", "--seeds", "3", "--results", tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and "--note SAC+MUSIC --seed 3" in lines[0]
    assert "--dependency=afterok:<FetchSlide-v1/SAC+MUSIC/seed3>" in lines[1]
    assert "SAC+MUSIC/seed3/policy_12.pkl" in lines[1] and "--ntasks=16" in lines[1]
    proc = sh(sys.executable, LAUNCH / "submit_sweep.py", "--family", "x", "--variants", "SAC+MAGIC",
              "--results", tmp_path, "--dry-run")
    assert proc.returncode == 2 and "no params file for note 'SAC+MAGIC'" in proc.stderr


def test_dockerfile_installs_with_the_ci_command_and_lints_clean():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "RUN make venv VENV=/opt/venv EXTRAS=mpich" in dockerfile
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: venv", makefile, re.M) and re.search(r"^venv: \$\(BIN\)/\.installed", makefile, re.M)
    assert "USER 1000" in dockerfile and 'CMD ["python", "-m", "music.train"' in dockerfile
    assert "MUJOCO_GL=egl" in dockerfile and "libegl1" in dockerfile
    hadolint = shutil.which("hadolint") or str(REPO / ".venv" / "bin" / "hadolint")
    if not os.path.exists(hadolint):
        pytest.skip("hadolint not installed")
    proc = sh(hadolint, REPO / "Dockerfile")
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
def test_training_across_network_namespace_hosts():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        pytest.skip("needs root, ip and unshare")
    probe = sh("ip", "netns", "add", "musicprobe")
    if probe.returncode != 0:
        pytest.skip(f"network namespaces unavailable here: {probe.stderr.strip()}")
    sh("ip", "netns", "del", "musicprobe")
    proc = sh(LAUNCH / "test_multihost.sh", "--hosts", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS: multi-host MPI over TCP, identical weights on all 2 ranks" in proc.stdout
    assert "MPI ranks on hosts: 0:host1 1:host2" in proc.stdout
