#!/bin/sh
# Installs edgeguardd as a systemd service, as root:
#   deploy/install-service.sh <publish-dir> [model]
# <publish-dir> is the output of `make publish-daemon [RID=...] [PROFILE=...]`; [model] a bundle (.gguf), a folder
# holding model.gguf (such as the checkout's models/edgeguard-default) or a Hugging Face directory, installed as
# /opt/edgeguard/models/edgeguard-default. Run again to upgrade; settings are kept.
set -eu

publish=${1:?usage: deploy/install-service.sh <publish-dir> [model]}
model=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
prefix=/opt/edgeguard

[ -x "$publish/edgeguardd" ] || { echo "install-service: $publish/edgeguardd not found; run make publish-daemon" >&2; exit 2; }

id edgeguard >/dev/null 2>&1 || useradd --system --no-create-home --home-dir "$prefix" --shell /usr/sbin/nologin edgeguard

install -d -m 0755 "$prefix" "$prefix/models"
install -m 0755 "$publish/edgeguardd" "$prefix/edgeguardd"
install -m 0644 "$publish/appsettings.json" "$prefix/appsettings.json"
if [ -d "$publish/firmware-profiles" ]; then
    install -d -m 0755 "$prefix/firmware-profiles"
    install -m 0644 "$publish"/firmware-profiles/*.json "$prefix/firmware-profiles/"
fi

if [ -n "$model" ]; then
    rm -rf "$prefix/models/edgeguard-default.new"
    cp -r "$model" "$prefix/models/edgeguard-default.new"
    # A rename, so a running daemon never sees a half-copied model; `systemctl reload` picks it up.
    rm -rf "$prefix/models/edgeguard-default.old"
    [ -e "$prefix/models/edgeguard-default" ] && mv "$prefix/models/edgeguard-default" "$prefix/models/edgeguard-default.old"
    mv "$prefix/models/edgeguard-default.new" "$prefix/models/edgeguard-default"
fi

install -d -m 0750 -g edgeguard /etc/edgeguard
[ -f /etc/edgeguard/edgeguardd.env ] || install -m 0640 -g edgeguard "$here/edgeguardd.env" /etc/edgeguard/edgeguardd.env
install -m 0644 "$here/edgeguardd.service" /etc/systemd/system/edgeguardd.service

# MemoryMax from the firmware profile named in the settings, if it gives one ("memory_max": "512M").
profile=$(sed -n 's/^EdgeGuard__Profile=//p' /etc/edgeguard/edgeguardd.env | tail -n 1)
dropin=/etc/systemd/system/edgeguardd.service.d
rm -f "$dropin/memory.conf"
if [ -n "$profile" ] && [ -f "$prefix/firmware-profiles/$profile.json" ]; then
    memory=$(tr -d '\n' < "$prefix/firmware-profiles/$profile.json" | sed -n 's/.*"memory_max"[[:space:]]*:[[:space:]]*"\([0-9]*[KMGT]\?\)".*/\1/p')
    if [ -n "$memory" ]; then
        install -d -m 0755 "$dropin"
        printf '[Service]\nMemoryMax=%s\n' "$memory" > "$dropin/memory.conf"
    fi
fi

systemctl daemon-reload
systemctl enable edgeguardd.service
systemctl restart edgeguardd.service
echo "edgeguardd installed; status: systemctl status edgeguardd; logs: journalctl -u edgeguardd"
