"""Sending through a smarthost that wants a login (issue 6, client side):
smtp_sasl_auth_enable with a hash: password table built by `tlsrelay map`,
against aiosmtpd sinks (peers/sink.py --auth) that offer AUTH PLAIN and/or
LOGIN, after STARTTLS or (on purpose) in the clear. The sink notes every
login attempt and every command, so the tests see what went over the wire:
the right user, and no AUTH at all where the password must not go.

A real Postfix smarthost that requires SASL needs Dovecot or Cyrus
saslauthd behind it; aiosmtpd is the real AUTH server here."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from relaytest import (OutboundTestCase, Sink, free_port_on,  # noqa: E402
                       inline_table, main, to_lines)

SENDER = "sender@senders.test"
RCPT = "rcpt@example.test"
PASSWORD = "s3cret:with colon"


class AuthSink(Sink):
    """peers/sink.py with --auth: accepts the logins in users
    ({user: password}), offering mechs, after STARTTLS unless plaintext."""

    def __init__(self, case, directory, users, certs, port=None,
                 hosts=("127.0.0.1",), tls=True, mechs="PLAIN LOGIN",
                 plaintext=False, required=False):
        args = ["--auth-mechs", mechs]
        for user, password in users.items():
            args += ["--auth", "%s:%s" % (user, password)]
        if plaintext:
            args.append("--auth-plaintext")
        if required:
            args.append("--auth-required")
        super().__init__(case, directory, port=port, hosts=hosts,
                         certs=certs, tls=tls, extra_args=args)

    def logins(self):
        """[(connection, mechanism, user, "ok" or "failed")]"""
        try:
            with open(os.path.join(self.dir, "auth.log")) as f:
                return [tuple(l.split()) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def all_commands(self):
        return [c for n, _, _ in self.connections()
                for c in self.commands(n)]


class SmarthostTestCase(OutboundTestCase):

    def auth_sink(self, users=None, **kw):
        return AuthSink(self, self._peer_dir("authsink"),
                        {"joe": PASSWORD} if users is None else users,
                        self.certs, **kw)

    def password_table(self, entries):
        """hash:FILE built with `tlsrelay map` from {key: value}."""
        path = os.path.join(self.tmpdir, "sasl_passwd-%s" %
                            self._testMethodName)
        with open(path, "w") as f:
            for key, value in entries.items():
                f.write("%s %s\n" % (key, value))
        status, out = self.tlsrelay("map", "hash:" + path)
        self.assertEqual(status, 0, out)
        self.assertTrue(os.path.exists(path + ".db"))
        return "hash:" + path

    def smarthost_relay(self, nexthop, table, **main):
        """relayhost = nexthop with the SASL_README recipe: encrypt,
        passwords only under TLS."""
        settings = {
            "relayhost": nexthop,
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": table,
            "smtp_sasl_tls_security_options": "noanonymous",
        }
        settings.update(main)
        return self.outbound_relay(main=settings)

    def send(self, relay, rcpt=RCPT):
        _, data = self.outbound_message(to=rcpt)
        return self.submit(relay, SENDER, [rcpt], data)

    def assertNoPassword(self, relay):
        log = relay.maillog() + relay.stderr()
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn("s3cret", log)


class LoginTest(SmarthostTestCase):

    def test_plain_over_starttls(self):
        sink = self.auth_sink(required=True)
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:" + PASSWORD}))
        queue_id = self.send(relay)
        self.wait_removed(relay, queue_id)
        (line,) = to_lines(relay, queue_id, "sent")
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d," % sink.port, line)
        self.assertIn("dsn=2.0.0", line)
        (m,) = sink.messages()
        self.assertEqual(m.auth, "joe")
        self.assertIsNotNone(m.tls)
        self.assertEqual(m.rcpt_tos, [RCPT])
        self.assertEqual(sink.logins(), [(str(m.conn), "PLAIN", "joe",
                                          "ok")])
        # AUTH after STARTTLS and the second EHLO, before MAIL.
        commands = sink.commands(m.conn)
        self.assertEqual(commands[:5],
                         ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL"])
        # Postfix logs nothing about a successful login; never a password.
        self.assertNotIn("SASL", relay.maillog())
        self.assertNoPassword(relay)

    def test_login_only_server(self):
        sink = self.auth_sink(mechs="LOGIN", required=True)
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:" + PASSWORD}))
        queue_id = self.send(relay)
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        self.assertEqual(m.auth, "joe")
        self.assertEqual([l[1:] for l in sink.logins()],
                         [("LOGIN", "joe", "ok")])
        self.assertNoPassword(relay)

    def test_mechanism_filter(self):
        sink = self.auth_sink(required=True)
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:" + PASSWORD}),
            smtp_sasl_mechanism_filter="login")
        queue_id = self.send(relay)
        self.wait_removed(relay, queue_id)
        self.assertEqual([l[1:] for l in sink.logins()],
                         [("LOGIN", "joe", "ok")])

    def test_wrong_password_defers(self):
        sink = self.auth_sink(required=True)
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:wrong"}))
        queue_id = self.send(relay)
        (line,) = relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                                 (queue_id, re.escape(RCPT)), timeout=20)
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d," % sink.port, line)
        self.assertIn("dsn=4.7.8", line)
        self.assertIn("status=deferred (SASL authentication failed; server "
                      "127.0.0.1[127.0.0.1] said: 535 5.7.8 Authentication "
                      "credentials invalid)", line)
        self.assertEqual([l[1:] for l in sink.logins()][:1],
                         [("PLAIN", "joe", "failed")])
        self.assertNotIn("MAIL", sink.all_commands())
        self.assertEqual(sink.messages(), [])
        self.assertIsNotNone(self.where(relay, queue_id))
        # The queue says why, too.
        status, out = self.tlsrelay("queue", "-c", relay.dir)
        self.assertEqual(status, 0, out)
        self.assertIn("SASL authentication failed", out)


class NoPlaintextTest(SmarthostTestCase):

    def test_credentials_never_sent_without_tls(self):
        # The server offers AUTH in the clear and no STARTTLS; TLS is
        # optional (may) and TLS sessions may use passwords: this one
        # has none, so the password stays here and the mail waits.
        sink = self.auth_sink(tls=False, plaintext=True)
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:" + PASSWORD}),
            smtp_tls_security_level="may")
        queue_id = self.send(relay)
        (line,) = relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                                 (queue_id, re.escape(RCPT)), timeout=20)
        self.assertIn("dsn=4.7.0", line)
        self.assertIn("status=deferred (SASL authentication failed; cannot "
                      "authenticate to server 127.0.0.1[127.0.0.1]: no "
                      "mechanism available)", line)
        commands = sink.all_commands()
        self.assertIn("EHLO", commands)
        self.assertNotIn("AUTH", commands)
        self.assertNotIn("MAIL", commands)
        self.assertEqual(sink.logins(), [])
        self.assertEqual(sink.messages(), [])
        self.assertNoPassword(relay)

    def test_postfix_defaults_refuse_under_tls_too(self):
        # smtp_sasl_tls_security_options defaults to
        # $smtp_sasl_security_options = noplaintext: Postfix sends no
        # password with PLAIN or LOGIN until the recipe's noanonymous.
        sink = self.auth_sink()
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:" + PASSWORD}),
            smtp_sasl_tls_security_options=None)
        queue_id = self.send(relay)
        (line,) = relay.wait_log(r": %s: to=<%s>, .*status=deferred" %
                                 (queue_id, re.escape(RCPT)), timeout=20)
        self.assertIn("no mechanism available", line)
        self.assertNotIn("AUTH", sink.all_commands())


class PasswordKeyTest(SmarthostTestCase):
    """Postfix's lookup keys: the server's name, then the next hop as
    written in relayhost ("[host]:port"); brackets and port count."""

    def deliver_with(self, entries, required=False):
        sink = self.auth_sink(users={"byhost": "pw1", "byhop": "pw2"},
                              required=required)
        table = self.password_table({
            k.replace("NEXTHOP", sink.nexthop): v
            for k, v in entries.items()})
        relay = self.smarthost_relay(sink.nexthop, table)
        queue_id = self.send(relay)
        self.wait_removed(relay, queue_id)
        (m,) = sink.messages()
        return m.auth, sink

    def test_next_hop_as_written(self):
        user, _ = self.deliver_with({"NEXTHOP": "byhop:pw2"}, required=True)
        self.assertEqual(user, "byhop")

    def test_host_name(self):
        # A bracketed address: the "name" of the server is the address.
        user, _ = self.deliver_with({"127.0.0.1": "byhost:pw1"},
                                    required=True)
        self.assertEqual(user, "byhost")

    def test_host_name_before_next_hop(self):
        user, _ = self.deliver_with({"NEXTHOP": "byhop:pw2",
                                     "127.0.0.1": "byhost:pw1"},
                                    required=True)
        self.assertEqual(user, "byhost")

    def test_other_forms_do_not_match(self):
        # "[127.0.0.1]" without the port is not the next hop: no password,
        # so no login (the sink takes mail without one here).
        user, sink = self.deliver_with({"[127.0.0.1]": "byhop:pw2",
                                        "127.0.0.1:1": "byhost:pw1"})
        self.assertIsNone(user)
        self.assertEqual(sink.logins(), [])


class NextServerTest(SmarthostTestCase):
    """A server that cannot take the password safely is given up and the
    next MX tried, with the password found under the domain."""

    def test_next_mx_after_no_mechanism(self):
        port = free_port_on(("127.0.0.1", "127.0.0.2"))
        # mx1: AUTH in the clear, no STARTTLS; mx2: AUTH after STARTTLS.
        first = self.auth_sink(port=port, hosts=("127.0.0.1",), tls=False,
                               plaintext=True)
        second = self.auth_sink(port=port, hosts=("127.0.0.2",),
                                required=True)
        dns = self.dns(mx=[("smart.test", "mx1.smart.test", 10),
                           ("smart.test", "mx2.smart.test", 20)],
                       hosts=[("mx1.smart.test", "127.0.0.1"),
                              ("mx2.smart.test", "127.0.0.2")])
        senders = self.sink()
        relay = self.outbound_relay(dns=dns, main={
            "smtp_tcp_port": str(port),
            "transport_maps": inline_table(
                {"senders.test": "smtp:" + senders.nexthop}),
            "smtp_tls_security_level": "may",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": self.password_table(
                {"smart.test": "joe:" + PASSWORD}),
            "smtp_sasl_tls_security_options": "noanonymous",
        })
        queue_id = self.send(relay, rcpt="user@smart.test")
        self.wait_removed(relay, queue_id)
        relay.wait_log(r"SASL authentication failed; cannot authenticate "
                       r"to server mx1\.smart\.test\[127\.0\.0\.1\]: no "
                       r"mechanism available")
        relay.wait_log(r": %s: to=<user@smart\.test>, relay=mx2\.smart\.test"
                       r"\[127\.0\.0\.2\]:%d, .*status=sent" % (queue_id, port))
        self.assertNotIn("AUTH", first.all_commands())
        self.assertEqual(first.messages(), [])
        (m,) = second.messages()
        self.assertEqual(m.auth, "joe")
        self.assertNoPassword(relay)


class ReuseTest(SmarthostTestCase):

    def test_connection_reused_with_same_login(self):
        sink = self.auth_sink(required=True)
        relay = self.smarthost_relay(
            sink.nexthop, self.password_table({sink.nexthop:
                                               "joe:" + PASSWORD}),
            smtp_connection_cache_time_limit="10s")
        first = self.send(relay)
        self.wait_removed(relay, first)
        second = self.send(relay)
        self.wait_removed(relay, second)
        msgs = sink.messages()
        self.assertEqual(len(msgs), 2)
        self.assertEqual([m.auth for m in msgs], ["joe", "joe"])
        # One connection, one login, two transactions.
        self.assertEqual(msgs[0].conn, msgs[1].conn)
        self.assertEqual(len(sink.logins()), 1)
        self.assertEqual(sink.commands(msgs[0].conn).count("MAIL"), 2)


if __name__ == "__main__":
    main()
