/* Only in ThreadSanitizer builds (MEPHISTO_SANITIZE=thread).
 *
 * librdkafka starts its threads with C11 thrd_create. glibc 2.36 implements that without
 * going through pthread_create, which is what TSan intercepts, so TSan knows nothing of
 * those threads and crashes in their first malloc; likewise its C11 mutexes and
 * condition variables are invisible to TSan, which then reports librdkafka's own
 * properly locked accesses as races. Defining the C11 calls here, in the executable,
 * routes librdkafka through the intercepted pthread calls. glibc's mtx_t and cnd_t have
 * the layout of pthread_mutex_t and pthread_cond_t. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct mephisto_trampoline {
  thrd_start_t fn;
  void* arg;
};

static void* mephisto_run(void* p) {
  struct mephisto_trampoline t = *(struct mephisto_trampoline*) p;
  free(p);
  return (void*) (intptr_t) t.fn(t.arg);
}

int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  struct mephisto_trampoline* t = malloc(sizeof *t);
  if (t == NULL)
    return thrd_nomem;
  t->fn = fn;
  t->arg = arg;
  int rc = pthread_create((pthread_t*) thr, NULL, mephisto_run, t);
  if (rc != 0) {
    free(t);
    return rc == ENOMEM ? thrd_nomem : thrd_error;
  }
  return thrd_success;
}

int thrd_join(thrd_t thr, int* res) {
  void* ret = NULL;
  if (pthread_join((pthread_t) thr, &ret) != 0)
    return thrd_error;
  if (res != NULL)
    *res = (int) (intptr_t) ret;
  return thrd_success;
}

int thrd_detach(thrd_t thr) {
  return pthread_detach((pthread_t) thr) == 0 ? thrd_success : thrd_error;
}

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive)
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init((pthread_mutex_t*) m, &attr);
  pthread_mutexattr_destroy(&attr);
  return rc == 0 ? thrd_success : thrd_error;
}

int mtx_lock(mtx_t* m) {
  return pthread_mutex_lock((pthread_mutex_t*) m) == 0 ? thrd_success : thrd_error;
}

int mtx_trylock(mtx_t* m) {
  int rc = pthread_mutex_trylock((pthread_mutex_t*) m);
  return rc == 0 ? thrd_success : (rc == EBUSY ? thrd_busy : thrd_error);
}

int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict ts) {
  int rc = pthread_mutex_timedlock((pthread_mutex_t*) m, ts);
  return rc == 0 ? thrd_success : (rc == ETIMEDOUT ? thrd_timedout : thrd_error);
}

int mtx_unlock(mtx_t* m) {
  return pthread_mutex_unlock((pthread_mutex_t*) m) == 0 ? thrd_success : thrd_error;
}

void mtx_destroy(mtx_t* m) {
  pthread_mutex_destroy((pthread_mutex_t*) m);
}

int cnd_init(cnd_t* c) {
  return pthread_cond_init((pthread_cond_t*) c, NULL) == 0 ? thrd_success : thrd_error;
}

int cnd_signal(cnd_t* c) {
  return pthread_cond_signal((pthread_cond_t*) c) == 0 ? thrd_success : thrd_error;
}

int cnd_broadcast(cnd_t* c) {
  return pthread_cond_broadcast((pthread_cond_t*) c) == 0 ? thrd_success : thrd_error;
}

int cnd_wait(cnd_t* c, mtx_t* m) {
  return pthread_cond_wait((pthread_cond_t*) c, (pthread_mutex_t*) m) == 0 ? thrd_success
                                                                            : thrd_error;
}

int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  int rc = pthread_cond_timedwait((pthread_cond_t*) c, (pthread_mutex_t*) m, ts);
  return rc == 0 ? thrd_success : (rc == ETIMEDOUT ? thrd_timedout : thrd_error);
}

void cnd_destroy(cnd_t* c) {
  pthread_cond_destroy((pthread_cond_t*) c);
}
