#!/usr/bin/env bash
# Stages what Node + Dawn need on a GPU machine with neither Node nor a package registry into the folder $1: this
# machine's node (xz), the `webgpu` package's dawn.node (xz), and the amd64 .debs of the Vulkan loader and glvnd
# libraries (plus the X11 client libraries NVIDIA's libGLX needs). `dawn-env.sh` unpacks them there; `bundle.sh`
# makes the self-contained scripts that run with them. Run from the repository root.
set -euo pipefail
out="$1"
mkdir -p "$out/debs/x11"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn.node.xz"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
(cd "$out/debs" && apt-get "${apt_opts[@]}" download libvulkan1 libglvnd0 libglx0 libegl1 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
(cd "$out/debs/x11" && apt-get "${apt_opts[@]}" download libx11-6 libxcb1 libxau6 libxdmcp6 libxext6 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$out"/debs/*.deb >/dev/null
