# Manual pages. tests/docs/check-docs.sh (included by Makefile.am through
# tests/docs/local.mk) checks them against `tlsrelay conf -d`.
dist_man_MANS += man/tlsrelayd.8 man/tlsrelay.1 man/tlsrelay.5
