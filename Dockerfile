# music-tf2: MUSIC (ICLR 2021) in TensorFlow 2, headless, one process per MPI rank, runs as uid 1000.
#   docker build -t music-tf2:0.1.0 .
#   mkdir -p logs && docker run --rm -v "$PWD/logs:/work/logs" --user "$(id -u):$(id -g)" music-tf2:0.1.0 \
#       mpirun -np 2 python -m music.train --env_name FetchPush-v1 --note SAC+MUSIC --logdir logs/push
# The same image is a worker node of a Kubeflow MPIJob (launch/k8s/mpijob.yaml): it runs
#   /usr/sbin/sshd -De -f /home/music/.sshd_config   (port 2222, keys in /home/music/.ssh).
FROM python:3.11-slim

# EGL and Mesa render MuJoCo headless (software); ssh is mpirun's way into other nodes; make
# runs the same install target as CI.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make libegl1 libegl-mesa0 libgl1 libgles2 libglib2.0-0 \
        openssh-client openssh-server \
    && rm -rf /var/lib/apt/lists/*

# MPICH copies large messages between processes with process_vm_readv, which Docker's default
# seccomp profile forbids: shared memory instead (docs/cluster.md).
ENV MUJOCO_GL=egl \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PIP_NO_CACHE_DIR=1 \
    MPIR_CVAR_CH4_CMA_ENABLE=0 \
    PATH=/opt/venv/bin:$PATH

RUN useradd --create-home --uid 1000 music && mkdir -p /work/logs /home/music/.ssh \
    && chown -R music:music /work /home/music
COPY launch/docker/ssh_config /etc/ssh/ssh_config.d/music.conf
COPY --chown=music:music launch/docker/sshd_config /home/music/.sshd_config

# The pinned dependencies first, in a layer of their own: a change to the code reuses it.
WORKDIR /opt/music
COPY requirements.txt requirements-mpich.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --quiet -r requirements.txt -r requirements-mpich.txt
# Then the package, with the one install command shared with CI (.ci/run -> make test -> make
# venv; no dev tools here): it finds the dependencies installed and adds the package only.
COPY setup.py pyproject.toml MANIFEST.in README.md LICENSE Makefile requirements-dev.txt ./
COPY music ./music
RUN make venv VENV=/opt/venv EXTRAS=mpich
COPY experiments ./experiments
COPY launch ./launch

USER 1000
WORKDIR /work
VOLUME ["/work/logs"]
EXPOSE 2222
CMD ["python", "-m", "music.train", "--logging", "True"]
