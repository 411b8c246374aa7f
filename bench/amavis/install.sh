#!/bin/bash
# Idempotent install of the reference amavisd-new 2.13 (Debian package) and what the comparison needs.
# Installs packages only (services are not started: this image's policy-rc.d exits 101).
# Note: amavisd-new's dependencies upgrade the system perl.
set -euo pipefail
PKGS=(
  amavisd-new spamassassin spamc clamav-daemon clamav clamav-testfiles postfix
  p7zip-full cabextract arj lhasa unrar-free cpio lzop nomarch rpm2cpio
  altermime libnet-patricia-perl xz-utils bzip2 zstd lz4
  libmail-dkim-perl libjson-perl libnet-ssleay-perl libauthen-sasl-perl
  libdbi-perl libdbd-mysql-perl
  python3 python3-aiosmtpd procps time
)
TMP_POLICY=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; TMP_POLICY=1
fi
trap '[ "$TMP_POLICY" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install.sh: all packages already installed"
else
  echo "install.sh: installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
dpkg-query -W -f='${Package} ${Version}\n' amavisd-new spamassassin clamav-daemon postfix perl libdbd-mysql-perl
