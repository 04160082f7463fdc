/* Works around a bug of CAF 0.17.6's OpenSSL module (cluster TLS): its sessions drain
 * OpenSSL's per-thread error queue only inside CAF_LOG_INFO(... get_ssl_error()), which a
 * CAF built without logging (Debian's: CAF_LOG_LEVEL_QUIET) compiles out. A connection that
 * fails (a refused handshake, a client gone without close_notify) then leaves its errors in
 * the multiplexer thread's queue, SSL_get_error reports them for the next SSL_read or
 * SSL_write of every other connection on that thread, and CAF drops those connections.
 *
 * OpenSSL's rule is to clear the queue before each TLS I/O call. These definitions, linked
 * into every Mephisto executable, take precedence over libssl's for every caller (CAF,
 * librdkafka, which clears it itself anyway): they clear the queue and call libssl's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* The libssl function `name`, looked up once; lookups racing at start find the same one. */
static void* next_symbol(void** slot, const char* name) {
  void* f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (f == NULL) {
    f = dlsym(RTLD_NEXT, name);
    __atomic_store_n(slot, f, __ATOMIC_RELEASE);
  }
  return f;
}

int SSL_read(SSL* ssl, void* buf, int num) {
  static void* real;
  ERR_clear_error();
  return ((int (*)(SSL*, void*, int)) next_symbol(&real, "SSL_read"))(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static void* real;
  ERR_clear_error();
  return ((int (*)(SSL*, const void*, int)) next_symbol(&real, "SSL_write"))(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static void* real;
  ERR_clear_error();
  return ((int (*)(SSL*)) next_symbol(&real, "SSL_accept"))(ssl);
}

int SSL_connect(SSL* ssl) {
  static void* real;
  ERR_clear_error();
  return ((int (*)(SSL*)) next_symbol(&real, "SSL_connect"))(ssl);
}
