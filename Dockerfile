# LossLab's JupyterLab image: Go, the `losslab` kernel, the XLA CPU plugin, Fashion-MNIST and this repository.
#
#   docker build -t losslab .
#   docker run --rm -p 127.0.0.1:8888:8888 losslab      # then open the URL with the token it prints
#
# The set-up is the README's own entry point (`go run ./kernel install`), not a second copy of it.
FROM golang:1.26.8-bookworm

# JupyterLab is not packaged by Debian: it comes from PyPI, pinned. The rest is Debian's.
ARG JUPYTERLAB_VERSION=4.2.5
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip nodejs npm \
 && pip3 install --no-cache-dir --break-system-packages "jupyterlab==${JUPYTERLAB_VERSION}" \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 losslab
ENV LOSSLAB_HOME=/opt/losslab \
    JUPYTER_DATA_DIR=/usr/local/share/jupyter \
    PJRT_PLUGIN_LIBRARY_PATH=/opt/go-xla \
    GOPATH=/home/losslab/go
COPY --chown=losslab:losslab . /home/losslab/losslab
WORKDIR /home/losslab/losslab

# As root, for the Debian packages (Jupyter, Fashion-MNIST) and the system-wide kernelspec.
RUN go run ./kernel install && chown -R losslab:losslab /opt/losslab /opt/go-xla /home/losslab /usr/local/share/jupyter/kernels/losslab

USER losslab
# Warm the build cache so the first cell does not compile GoMLX from scratch.
RUN go build ./... && go run ./kernel doctor

EXPOSE 8888
# JupyterLab on all interfaces of the container, with a random token (printed at start; set JUPYTER_TOKEN to choose it).
CMD ["go", "run", "./kernel", "up", "-lab", "-ip=0.0.0.0", "-port=8888"]
