#!/usr/bin/env bash
# Install the Debian packages the test suite runs against (idempotent).
#
#   public-inbox          public-inbox-init/-index/-httpd: the real server software the
#                         lore HTTP source and the git-over-HTTP mirror path are tested
#                         against (on 127.0.0.1, since lore.kernel.org is not reachable)
#   libsearch-xapian-perl Xapian bindings public-inbox needs for its search endpoint
#   xapian-tools          (?q=…&x=m); both are dependencies of libpublicinbox-perl, listed
#                         here so a partial install is repaired
#   git                   mirrors are git repositories
#   chromium              the site's browser tests (driven by playwright, never downloaded)
#   fonts-wqy-microhei    a CJK and an emoji font, so the browser tests lay out the zh pages
#   fonts-noto-color-emoji  with real glyph widths (and screenshots show text, not boxes)
#
# apt-get runs only when something is missing: as root directly, otherwise through sudo
# when available. When nothing can be installed it says so and exits 0: the tests that need
# a package then skip with a message naming this script.
set -u

PACKAGES=(public-inbox libsearch-xapian-perl xapian-tools git chromium fonts-wqy-microhei fonts-noto-color-emoji)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies already installed: ${PACKAGES[*]}"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: install ${missing[*]} by hand; the tests needing them will be skipped"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "missing ${missing[*]} and cannot run apt-get (not root, no password-less sudo):"
  echo "  run: sudo apt-get install ${missing[*]}"
  echo "the tests needing them will be skipped"
  exit 0
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get update -qq; then
  echo "apt-get update failed: the tests needing ${missing[*]} will be skipped"
  exit 0
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "apt-get install ${missing[*]} failed: the tests needing them will be skipped"
  exit 0
fi
echo "installed: ${missing[*]}"
