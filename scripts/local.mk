# Set-up, test and development scripts; README and LICENSE ride along in
# the distribution.
dist_noinst_SCRIPTS += \
	scripts/setup-debian.sh \
	scripts/test.sh \
	scripts/dev-run.sh \
	scripts/gen-dev-cert.sh
EXTRA_DIST += README.md LICENSE
