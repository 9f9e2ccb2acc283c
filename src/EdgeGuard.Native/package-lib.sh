#!/bin/bash
# Lays out one build of libedgeguard as an installable prefix (make publish-lib, mk/native.mk):
#   OUT/include/edgeguard.h
#   OUT/lib/libedgeguard.so.1, libedgeguard.so -> libedgeguard.so.1
#   OUT/lib/libedgeguard.a                       self-contained: the library, the .NET runtime and its start-up object
#   OUT/lib/pkgconfig/edgeguard.pc, edgeguard-static.pc   relocatable (paths relative to the .pc file)
# usage: package-lib.sh OUT SHARED_PUBLISH_DIR STATIC_PUBLISH_DIR TOOL_PREFIX PROFILE
#   TOOL_PREFIX: binutils prefix of the target ("" natively, aarch64-linux-gnu- for arm64); PROFILE may be empty.
set -euo pipefail
out=$(realpath -m "$1") shared=$(realpath "$2") static=$(realpath "$3") tools=$4 profile=$5
here=$(cd "$(dirname "$0")" && pwd)
header=$here/include/edgeguard.h

version=$(sed -n 's/^#define EDGEGUARD_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$header" | paste -sd.)
abi=$(sed -n 's/^#define EDGEGUARD_ABI_VERSION \([0-9]*\)$/\1/p' "$header")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && -n $abi ]] || { echo "package-lib: no version in $header" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/include" "$out/lib/pkgconfig"
cp "$header" "$out/include/"
cp "$shared/EdgeGuard.Native.so" "$out/lib/libedgeguard.so.$abi"
ln -s "libedgeguard.so.$abi" "$out/lib/libedgeguard.so"

# NativeAOT's static library holds the compiled code only. The runtime's start-up object defines no symbol a program
# references (it registers the code from a constructor), so an archive member would never be linked: it is joined
# to the code by a relocatable link. The runtime's archives are appended whole, so one archive is all a program needs.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "${tools}ar" x "$static/EdgeGuard.Native.a")
objects=() archives=()
while read -r input; do
  case $input in
    *.o) objects+=("$input") ;;
    *.a) archives+=("$input") ;;
    '') ;;
    *) echo "package-lib: unexpected static link input $input" >&2; exit 1 ;;
  esac
done < "$static/static-link-inputs.txt"
"${tools}ld" -r -o "$work/edgeguard.o" "$work/EdgeGuard.Native.o" "${objects[@]}"
{
  echo "CREATE $out/lib/libedgeguard.a"
  echo "ADDMOD $work/edgeguard.o"
  for archive in "${archives[@]}"; do echo "ADDLIB $archive"; done
  echo "SAVE"
  echo "END"
} | "${tools}ar" -M
"${tools}strip" --strip-debug "$out/lib/libedgeguard.a"
"${tools}ranlib" "$out/lib/libedgeguard.a"

system_libs="-pthread $(sed 's/^/-l/' "$static/static-link-system-libraries.txt" | paste -sd' ')"
description="EdgeGuard guard-model runtime (text safety classifier)${profile:+, firmware profile $profile}"
cat > "$out/lib/pkgconfig/edgeguard.pc" <<PC
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: edgeguard
Description: $description
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -ledgeguard
PC
cat > "$out/lib/pkgconfig/edgeguard-static.pc" <<PC
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: edgeguard-static
Description: $description, linked statically
Version: $version
Cflags: -I\${includedir}
Libs: \${libdir}/libedgeguard.a $system_libs
PC
