
noinst_HEADERS += tests/unit/testutil.h
