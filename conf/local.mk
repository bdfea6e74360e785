# Sample configuration. It is installed as main.cf.sample and
# master.cf.sample in $(sysconfdir)/tlsrelay, so `make install` never
# overwrites a configuration in use: copy the samples to main.cf and
# master.cf for a first set-up. tests/docs/check-docs.sh checks that the
# samples load without a warning.
sampleconfdir = $(sysconfdir)/tlsrelay
nodist_sampleconf_DATA = conf/main.cf.sample conf/master.cf.sample
EXTRA_DIST += conf/main.cf conf/master.cf
CLEANFILES += conf/main.cf.sample conf/master.cf.sample

# The sample names the directories of this build: sysconfdir for the
# certificates and tables, localstatedir for the queue and data.
conf/main.cf.sample: $(srcdir)/conf/main.cf Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && rm -f $@ && \
	    sed -e 's|/etc/tlsrelay/|$(sysconfdir)/tlsrelay/|g' \
	    -e 's|/var/spool/tlsrelay|$(localstatedir)/spool/tlsrelay|g' \
	    -e 's|/var/lib/tlsrelay|$(localstatedir)/lib/tlsrelay|g' \
	    $(srcdir)/conf/main.cf > $@

conf/master.cf.sample: $(srcdir)/conf/master.cf
	$(AM_V_GEN)$(MKDIR_P) conf && rm -f $@ && \
	    cp $(srcdir)/conf/master.cf $@

# fail2ban: the filter and the jails (both jails off until enabled), in
# fail2ban's own directory (configure --with-fail2ban-dir).
EXTRA_DIST += conf/fail2ban/filter.d/tlsrelay.conf \
	conf/fail2ban/jail.d/tlsrelay.conf
if INSTALL_FAIL2BAN
fail2banfilterdir = $(fail2bandir)/filter.d
dist_fail2banfilter_DATA = conf/fail2ban/filter.d/tlsrelay.conf
fail2banjaildir = $(fail2bandir)/jail.d
dist_fail2banjail_DATA = conf/fail2ban/jail.d/tlsrelay.conf
endif
