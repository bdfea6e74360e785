# Sample configuration. It is installed as main.cf.sample and
# master.cf.sample in $(sysconfdir)/tlsrelay, so `make install` never
# overwrites a configuration in use: copy the samples to main.cf and
# master.cf for a first set-up. tests/docs/check-docs.sh checks that the
# samples load without a warning.
sampleconfdir = $(sysconfdir)/tlsrelay
nodist_sampleconf_DATA = conf/main.cf.sample conf/master.cf.sample
EXTRA_DIST += conf/main.cf conf/master.cf
CLEANFILES += conf/main.cf.sample conf/master.cf.sample

conf/main.cf.sample: $(srcdir)/conf/main.cf
	$(AM_V_GEN)$(MKDIR_P) conf && rm -f $@ && \
	    cp $(srcdir)/conf/main.cf $@

conf/master.cf.sample: $(srcdir)/conf/master.cf
	$(AM_V_GEN)$(MKDIR_P) conf && rm -f $@ && \
	    cp $(srcdir)/conf/master.cf $@
