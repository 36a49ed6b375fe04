#!/bin/sh
# Helm 3 post-renderer: helm pipes the rendered manifests through this.
#   helm install agent ./chart --post-renderer ./contrib/helm/post-renderer.sh \
#     --post-renderer-args --registry=harbor.example.com/apm \
#     --post-renderer-args --pull-secret --post-renderer-args --inject-pull-secret
# (Helm 4 takes a plugin name instead: see tingyun-postrenderer/.)
exec kubectl-tingyun patch - -o - "$@"
