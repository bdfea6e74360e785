# Set-up, test and development scripts; README and LICENSE ride along in
# the distribution.
dist_noinst_SCRIPTS += \
	scripts/setup-debian.sh \
	scripts/test.sh \
	scripts/dev-run.sh \
	scripts/gen-dev-cert.sh
EXTRA_DIST += README.md LICENSE

# The systemd unit, with this build's paths filled in.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = scripts/tlsrelay.service
EXTRA_DIST += scripts/tlsrelay.service.in
CLEANFILES += scripts/tlsrelay.service
scripts/tlsrelay.service: $(srcdir)/scripts/tlsrelay.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) scripts && sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@localstatedir[@]|$(localstatedir)|g' \
	    $(srcdir)/scripts/tlsrelay.service.in > $@

# The queue and data directories, which the unit's ProtectSystem=strict
# makes writable (ReadWritePaths=) but the daemon cannot create under it.
# tlsrelayd gives their contents to mail_owner at start.
install-data-local:
	$(MKDIR_P) $(DESTDIR)$(localstatedir)/spool/tlsrelay \
	    $(DESTDIR)$(localstatedir)/lib/tlsrelay
