#!/usr/bin/env bash
# make deb: a Debian package of the bridge, with dpkg-deb alone. Out: .build-deb/package/smpp-bridge_<version>_<arch>.deb
#   the binary (release, Swift runtime linked in), man pages, bash/zsh/fish completions,
#   the systemd unit (Type=notify, RestartPreventExitStatus=2), the retention timer,
#   sysusers.d for the service user, the example config (a conffile) and the docs.
set -euo pipefail
cd "$(dirname "$0")/../.."
SWIFT=${SWIFT:-swift}
OUT=.build-deb/package
ROOT=$OUT/root
rm -rf "$ROOT" && mkdir -p "$ROOT/DEBIAN"

# Its own build folder: the Swift runtime linked in statically is a different build from
# `make demo`'s, and sharing .build/release would rebuild everything at each switch.
$SWIFT build -c release --product smpp-bridge --static-swift-stdlib --scratch-path .build-deb 2>&1 | grep -E "error|Build" | tail -2 >&2
BIN=.build-deb/release/smpp-bridge
# Debian versions start with a digit: 0~git<commit date>.<short commit>, and what --version says.
VERSION="0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)"
ARCH=$(dpkg --print-architecture)

install -D -m 0755 "$BIN" "$ROOT/usr/bin/smpp-bridge"
strip --strip-unneeded "$ROOT/usr/bin/smpp-bridge" 2>/dev/null || true

# Man pages: ArgumentParser's manual plugin (one page per command), from the debug build's
# help (the same commands and text; its release build would flip .build/release's flags).
rm -rf .build/plugins/GenerateManual/outputs
$SWIFT package plugin generate-manual --configuration debug --multi-page --date "$(git log -1 --format=%cd --date=format:%Y-%m-%d 2>/dev/null || date +%Y-%m-%d)" >/dev/null
mkdir -p "$ROOT/usr/share/man/man1"
for page in $(find .build/plugins/GenerateManual/outputs -name '*.1'); do gzip -9n < "$page" > "$ROOT/usr/share/man/man1/$(basename "$page").gz"; done

install -d "$ROOT/usr/share/bash-completion/completions" "$ROOT/usr/share/zsh/vendor-completions" "$ROOT/usr/share/fish/vendor_completions.d"
"$BIN" --generate-completion-script bash > "$ROOT/usr/share/bash-completion/completions/smpp-bridge"
"$BIN" --generate-completion-script zsh > "$ROOT/usr/share/zsh/vendor-completions/_smpp-bridge"
"$BIN" --generate-completion-script fish > "$ROOT/usr/share/fish/vendor_completions.d/smpp-bridge.fish"

# The unit as shipped in deploy/, with the packaged binary's path.
install -d "$ROOT/lib/systemd/system" "$ROOT/usr/lib/sysusers.d" "$ROOT/etc/smpp-bridge" "$ROOT/usr/share/doc/smpp-bridge"
sed 's#/usr/local/bin/smpp-bridge#/usr/bin/smpp-bridge#g' deploy/smpp-bridge.service > "$ROOT/lib/systemd/system/smpp-bridge.service"
install -m 0644 deploy/debian/smpp-bridge-retention.service deploy/debian/smpp-bridge-retention.timer "$ROOT/lib/systemd/system/"
install -m 0644 deploy/debian/sysusers.conf "$ROOT/usr/lib/sysusers.d/smpp-bridge.conf"
install -m 0644 deploy/bridge.example.toml "$ROOT/etc/smpp-bridge/bridge.toml"
for d in README.md docs/operations.md docs/configuration.md docs/storefront-contract.md; do gzip -9n < "$d" > "$ROOT/usr/share/doc/smpp-bridge/$(basename "$d").gz"; done
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$ROOT/DEBIAN/"
echo /etc/smpp-bridge/bridge.toml > "$ROOT/DEBIAN/conffiles"

# Runtime libraries: the binary's direct NEEDED entries, each to the Debian package that ships it.
owner() {  # the package owning a library, whichever of /lib and /usr/lib dpkg recorded it under (merged /usr)
  local path=$1
  for p in "$path" "$(realpath "$path")" "/usr$path" "${path#/usr}"; do
    local o
    o=$(dpkg -S "$p" 2>/dev/null | awk -F: 'NR == 1 {print $1}') || true  # reads to the end: no SIGPIPE under pipefail
    [ -n "$o" ] && { echo "$o"; return 0; }
  done
  return 1
}
DEPENDS=""
for lib in $(objdump -p "$ROOT/usr/bin/smpp-bridge" | awk '/NEEDED/{print $2}'); do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|AArch64|64bit/ && !found {print $NF; found = 1}')
  [ -n "$path" ] || { echo "build-deb: cannot find $lib" >&2; exit 1; }
  pkg=$(owner "$path") || { echo "build-deb: no package ships $path" >&2; exit 1; }
  v=$(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//; s/+.*//')
  case ",$DEPENDS," in *", $pkg (>="*|*",$pkg (>="*) ;; *) DEPENDS="${DEPENDS:+$DEPENDS, }$pkg (>= $v)";; esac
done
SIZE=$(du -sk "$ROOT" --exclude=DEBIAN | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: smpp-bridge
Version: $VERSION
Architecture: $ARCH
Maintainer: TrueOTP <ops@trueotp.example>
Installed-Size: $SIZE
Depends: $DEPENDS
Section: net
Priority: optional
Homepage: https://trueotp.example/smpp-bridge
Description: TrueOTP SMPP 3.4 carrier gateway bridge
 Binds to carriers' SMSCs over SMPP 3.4 (TLS verified by default), routes each
 SMS to the order renting its number, extracts OTP codes and stores every message
 in PostgreSQL, acknowledging it only after COMMIT.
CONTROL
find "$ROOT" -type d -exec chmod 0755 {} +
DEB="$OUT/smpp-bridge_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
