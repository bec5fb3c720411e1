# LossLab's image: Go, the `losslab` kernel, JupyterLab 3.6 (LossLab's own build, see internal/lab), the XLA
# CPU plugin when the build machine is online, Fashion-MNIST and this repository.
#
#   docker build -t losslab .
#   docker run --rm -p 127.0.0.1:8888:8888 losslab      # then open the URL with the token it prints
#
# The set-up is the README's own entry point (`go run ./kernel install`), not a second copy of it: the
# image serves the same JupyterLab build and launcher that `go run ./kernel up` starts and the browser
# test exercises. BASE is any Debian 12 (bookworm) image with Go 1.26 in /usr/local/go; `go run ./kernel
# test-image` builds this file on a local base made with debootstrap.
ARG BASE=golang:1.26.8-bookworm
FROM ${BASE}

# Node.js and npm build JupyterLab's front end and install plotly.js; a C compiler builds go-xla's cgo
# code (the official Go image has one, a minimal Debian does not); everything else comes from Debian
# through the install command below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 losslab
# Jupyter writes into $JUPYTER_DATA_DIR at run time (the notebook signing secret; the runtime folder with
# the kernels' connection files, which goes to the user's home instead), so the user owns it.
ENV LOSSLAB_HOME=/opt/losslab \
    JUPYTER_DATA_DIR=/usr/local/share/jupyter \
    JUPYTER_RUNTIME_DIR=/home/losslab/.local/share/jupyter/runtime \
    PJRT_PLUGIN_LIBRARY_PATH=/opt/go-xla \
    GOPATH=/home/losslab/go \
    PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY --chown=losslab:losslab . /home/losslab/losslab
WORKDIR /home/losslab/losslab

# As root, for the Debian packages (Jupyter, JupyterLab's server, MathJax, Fashion-MNIST) and the
# system-wide kernelspec; npm's cache is dropped once JupyterLab is built.
RUN go run ./kernel install \
 && mkdir -p /opt/go-xla \
 && chown -R losslab:losslab /opt/losslab /opt/go-xla /home/losslab /usr/local/share/jupyter \
 && rm -rf /root/.npm /var/lib/apt/lists/*

USER losslab
# Warm the build cache so the first cell does not compile GoMLX from scratch: with the GOFLAGS and
# CGO_ENABLED that the kernelspec gives cells (-tags=noxla and CGO_ENABLED=0 unless the XLA plugin could
# be installed); with cgo left on, the first build of lib/ with the kernelspec's settings compiled 38
# packages again.
RUN eval "$(python3 -c 'import json, shlex; env = json.load(open("/usr/local/share/jupyter/kernels/losslab/kernel.json"))["env"]; print(" ".join("export %s=%s;" % (k, shlex.quote(env[k])) for k in ("GOFLAGS", "CGO_ENABLED") if k in env))')" \
 && go build ./... && go run ./kernel doctor

EXPOSE 8888
# JupyterLab on all interfaces of the container, with a random token (printed at start; set JUPYTER_TOKEN
# to choose it).
CMD ["go", "run", "./kernel", "up", "-ip=0.0.0.0", "-port=8888"]
