#!/bin/bash
# Installs Mesa 25's lavapipe, a CPU Vulkan driver on which Dawn (the npm package `webgpu`) offers
# shader-f16, into a private folder, and prints its ICD file (for VK_ICD_FILENAMES). The system's Mesa and
# Chromium are left alone. Debian 12 (bookworm), as root; scripts/setup.mjs runs it.
# usage: install-lavapipe.sh [DIR]   (default: .lavapipe in the repository root, git-ignored)
# Why: Chromium's SwiftShader has no shader-f16, so WGSL with `enable f16;` never runs there. Bookworm's
# own Mesa 22.3 lavapipe is refused by Dawn (it lacks shaderUniform*ArrayDynamicIndexing); the one in
# bookworm-backports is taken, offers shader-f16 and runs the native f16 kernels.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath -m "${1:-$root/.lavapipe}")
icd=$dir/lvp_icd.json
lib_relative=mesa/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so
if [ -f "$icd" ] && [ -f "$dir/$lib_relative" ]; then echo "$icd"; exit 0; fi

fail() { echo "install-lavapipe: $*" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || fail "only x86_64 is handled (this is $(uname -m))"
# shellcheck disable=SC1091
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ "$codename" = bookworm ] || fail "needs Debian 12 (bookworm) for its bookworm-backports Mesa; this is '${codename:-not Debian}'"
[ "$(id -u)" = 0 ] || fail "needs root (apt-get): sudo bash scripts/install-lavapipe.sh"

# bookworm-backports from the mirror the machine already uses (deb822 sources, or a sources.list line).
src=/etc/apt/sources.list.d/debian.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
  if [ -f "$src" ]; then
    uri=$(awk '/^URIs:/{print $2; exit}' "$src")
  else
    uri=$(awk '$1=="deb" && $3=="bookworm"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  fi
  [ -n "$uri" ] || fail "no Debian mirror found in the apt sources"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
    > /etc/apt/sources.list.d/backports.sources
fi
# Other set-ups may hold apt's lock (CI images, parallel jobs): wait for it rather than fail.
apt=(apt-get -qq -o DPkg::Lock::Timeout=300)
"${apt[@]}" update
# The driver's own dependencies that the machine lacks, by name, in bookworm's versions (the package asks
# for a newer libdrm than bookworm's, which the driver runs with: only its files are unpacked, the package
# is not installed). Installed ones are left as they are.
deps=$(apt-cache show mesa-vulkan-drivers/bookworm-backports | awk '/^Depends:/{sub(/^Depends: /, ""); print; exit}' |
  tr ',' '\n' | sed 's/([^)]*)//g; s/|.*//; s/ //g')
[ -n "$deps" ] || fail "mesa-vulkan-drivers not found in bookworm-backports"
lacking=()
for dep in $deps; do
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || lacking+=("$dep")
done
if [ ${#lacking[@]} -gt 0 ]; then DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y "${lacking[@]}" >/dev/null; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chown _apt "$tmp" 2>/dev/null || true # apt downloads as its own user
(cd "$tmp" && "${apt[@]}" download mesa-vulkan-drivers/bookworm-backports)
rm -rf "$dir/mesa" && mkdir -p "$dir"
dpkg-deb -x "$tmp"/mesa-vulkan-drivers_*.deb "$dir/mesa"
[ -f "$dir/$lib_relative" ] || fail "$lib_relative not found in the package"
missing=$(ldd "$dir/$lib_relative" | awk '/not found/{print $1}')
[ -z "$missing" ] || fail "the driver needs libraries this machine lacks: $missing"
# A library path relative to the ICD file: the loader resolves it from the file's folder, so the folder
# can move with the checkout.
printf '{"file_format_version":"1.0.1","ICD":{"api_version":"1.4.305","library_arch":"64","library_path":"./%s"}}\n' "$lib_relative" > "$icd"
echo "$icd"
