# Sourced ON the GPU machine by the device run scripts, with `dev` set to the carried folder that stage-dawn.sh
# filled: unpacks the Vulkan loader and glvnd libraries (the X11 client libraries only where absent), points Vulkan at
# NVIDIA's ICD, and unpacks node (to $node_bin) and dawn.node (next to the bundles). AIM_DEVICE_SYSROOT redirects the
# .debs (a rehearsal on a shared machine must not touch its /).
unxz_to() { # unxz_to <src.xz> <dest>: xz where installed, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
sysroot="${AIM_DEVICE_SYSROOT:-/}"
mkdir -p "$sysroot"
for f in "$dev"/debs/*.deb; do dpkg -x "$f" "$sysroot"; done
if ! ldconfig -p | grep -q 'libX11.so.6 '; then
  mkdir -p "$sysroot/opt/aim-x11" && for f in "$dev"/debs/x11/*.deb; do dpkg -x "$f" "$sysroot/opt/aim-x11"; done
  export LD_LIBRARY_PATH="$sysroot/opt/aim-x11/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ "$sysroot" = / ]; then ldconfig; else export LD_LIBRARY_PATH="$sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES="$icd"; break; }
  done
  [ -n "${VK_DRIVER_FILES:-}" ] || echo "no nvidia_icd.json found; Vulkan will search its default folders" >&2
fi
export __EGL_VENDOR_LIBRARY_FILENAMES="${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}"
node_bin=/tmp/aim-node/node
mkdir -p /tmp/aim-node "$dev/dist/linux-x64"
unxz_to "$dev/node.xz" "$node_bin" && chmod +x "$node_bin"
unxz_to "$dev/dawn.node.xz" "$dev/dist/linux-x64/dawn.node"
