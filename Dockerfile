# music-tf2: MUSIC (ICLR 2021) in TensorFlow 2, headless, one process per MPI rank.
#   docker build -t music-tf2:0.1.0 .
#   docker run --rm -v "$PWD/logs:/work/logs" music-tf2:0.1.0 \
#       mpirun -np 8 python -m music.train --env_name FetchPush-v1 --note SAC+MUSIC --logdir logs/push
FROM python:3.11-slim

# make runs the same install target as CI; EGL and Mesa render MuJoCo headless (software).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make libegl1 libegl-mesa0 libgl1 libgles2 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

ENV MUJOCO_GL=egl \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /opt/music
COPY requirements.txt requirements-mpich.txt requirements-dev.txt setup.py Makefile ./
COPY music ./music
# The one install command, shared with CI (.ci/run -> make test -> make venv); no dev tools here.
RUN make venv VENV=/opt/venv EXTRAS=mpich
COPY experiments ./experiments
COPY launch ./launch

RUN useradd --create-home --uid 1000 music && mkdir -p /work/logs && chown -R music /work
USER 1000
WORKDIR /work
VOLUME ["/work/logs"]
CMD ["python", "-m", "music.train", "--logging", "True"]
