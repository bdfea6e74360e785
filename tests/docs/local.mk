# Documentation checks: man/tlsrelay.5 against `tlsrelay conf -d`, the
# manual pages through groff (and mandoc when installed), the sample
# configuration through `tlsrelay conf -c conf`.
TESTS += tests/docs/check-docs.sh
EXTRA_DIST += tests/docs/check-docs.sh
