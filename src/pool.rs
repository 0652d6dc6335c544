//! A fixed-size thread pool with a bounded job queue (chapter 05).
//!
//! Chapter 04 spawned a thread per client, with no upper bound. A pool turns that around: a
//! fixed number of *workers* is started once, and work reaches them through a *queue* of fixed
//! length. Both bounds are the point: however many clients arrive at once, the server never has
//! more than `workers` threads serving and `queue` clients waiting, so a burst costs a known
//! amount of memory, and the caller learns at once when the pool is full
//! ([`ThreadPool::try_reserve`] returns `None`) instead of queueing without limit.
//!
//! A *reservation* is a place for one job, taken before the job is built: a server reserves a
//! place, and only then moves the client's socket into a job; when there is no place, it still
//! holds the socket and can tell the client "busy". Jobs travel to the workers over a
//! `std::sync::mpsc` channel; dropping its sender is how the workers learn that no more work will
//! come. They finish what is queued, then exit, and `Drop` joins them.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// A unit of work for the pool.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of worker threads fed by a bounded queue.
pub struct ThreadPool {
    /// `None` once the pool is shutting down (in `Drop`).
    sender: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    /// Jobs reserved, queued or running; never more than `capacity`.
    pending: Arc<AtomicUsize>,
    /// Workers plus queue length.
    capacity: usize,
}

/// A place for one job in a [`ThreadPool`], from [`ThreadPool::try_reserve`]. Dropping it
/// without calling [`execute`](Reservation::execute) gives the place back.
#[must_use = "a reservation holds a place in the pool until it is used or dropped"]
pub struct Reservation<'pool> {
    pool: &'pool ThreadPool,
    used: bool,
}

// ANCHOR: new
impl ThreadPool {
    /// Starts `workers` threads (named `worker-0`, `worker-1`, …) sharing a queue that
    /// holds up to `queue` jobs waiting for a free worker. With `queue` 0 a job is
    /// accepted only when a worker is idle and waiting for it.
    ///
    /// Fails if a thread cannot be started; the threads already started are stopped.
    pub fn new(workers: usize, queue: usize) -> io::Result<ThreadPool> {
        assert!(workers > 0, "a thread pool needs at least one worker");
        // The channel itself is unbounded; the reservations are what bound it.
        let (sender, receiver) = mpsc::channel::<Job>();
        // One receiver, shared: whichever idle worker holds the lock takes the next
        // job.
        let receiver = Arc::new(Mutex::new(receiver));
        let mut pool = ThreadPool {
            sender: Some(sender),
            workers: Vec::with_capacity(workers),
            pending: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
        };
        for id in 0..workers {
            let (receiver, pending) =
                (Arc::clone(&receiver), Arc::clone(&pool.pending));
            let worker = thread::Builder::new()
                .name(format!("worker-{id}"))
                // on error, `pool` is dropped
                .spawn(move || work(id, &receiver, &pending))?;
            pool.workers.push(worker);
        }
        Ok(pool)
    }
    // ANCHOR_END: new

    /// How many worker threads the pool has.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    // ANCHOR: try_reserve
    /// Takes a place for one job, or returns `None` at once when every worker is busy
    /// and the queue is full. Never blocks: the caller decides what to do with work
    /// that does not fit (tell a client "busy", say).
    pub fn try_reserve(&self) -> Option<Reservation<'_>> {
        // Compare-and-swap: take a place only if one is free, even with many callers
        // at once.
        self.pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |pending| {
                (pending < self.capacity).then_some(pending + 1)
            })
            .ok()
            .map(|_| Reservation {
                pool: self,
                used: false,
            })
    }
    // ANCHOR_END: try_reserve

    /// Runs `job` on the next free worker, or hands it back when the pool is full.
    pub fn try_execute<F>(&self, job: F) -> Result<(), F>
    where
        F: FnOnce() + Send + 'static,
    {
        match self.try_reserve() {
            Some(place) => {
                place.execute(job);
                Ok(())
            }
            None => Err(job),
        }
    }
}

impl Reservation<'_> {
    /// Queues `job` in the reserved place; the next free worker runs it.
    pub fn execute<F>(mut self, job: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.used = true;
        let sender = self.pool.sender.as_ref().expect("the pool is running");
        // Sending fails only if every worker has exited, which happens only in `Drop`, which
        // cannot run while this reservation borrows the pool.
        sender
            .send(Box::new(job))
            .expect("the pool's workers are running");
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.used {
            self.pool.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

// ANCHOR: work
/// A worker's life: take a job, run it, repeat, until the queue is closed and empty.
fn work(id: usize, receiver: &Mutex<Receiver<Job>>, pending: &AtomicUsize) {
    loop {
        // Hold the lock only while waiting for a job, not while running it: the lock
        // guard is a temporary that is dropped at the end of this statement.
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            // Another worker panicked while holding the lock; the receiver is still
            // sound.
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else {
            // the sender is gone and the queue is empty: the pool is shutting down
            return;
        };
        // A panic in one job must not cost the pool a worker: catch it here, report
        // it, and go on with the next job. (`AssertUnwindSafe`: the job owns its data,
        // and whatever it shared is behind locks that poisoning protects.)
        if panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            eprintln!("error: a job panicked in worker-{id}; the worker goes on");
        }
        // The job's place is free again: a panic above cannot skip this line.
        pending.fetch_sub(1, Ordering::SeqCst);
    }
}
// ANCHOR_END: work

// ANCHOR: drop
impl Drop for ThreadPool {
    /// Closes the queue and waits for the workers: every job queued so far is still
    /// run.
    fn drop(&mut self) {
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
// ANCHOR_END: drop

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    const LIMIT: Duration = Duration::from_secs(5);

    #[test]
    fn runs_every_job_on_at_most_n_threads_at_once() {
        let pool = ThreadPool::new(3, 100).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = channel();
        for n in 0..30 {
            let (running, most, done_tx) =
                (running.clone(), most.clone(), done_tx.clone());
            pool.try_execute(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                done_tx.send(n).unwrap();
            })
            .unwrap_or_else(|_| panic!("queue of 100 full"));
        }
        let mut done: Vec<i32> = (0..30)
            .map(|_| done_rx.recv_timeout(LIMIT).unwrap())
            .collect();
        done.sort();
        assert_eq!(done, (0..30).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn a_full_queue_hands_the_job_back() {
        let pool = ThreadPool::new(1, 1).unwrap();
        let (release_tx, release_rx) = channel::<()>();
        let (started_tx, started_rx) = channel();
        pool.try_execute(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(LIMIT);
        })
        .unwrap_or_else(|_| panic!("first job refused"));
        started_rx.recv_timeout(LIMIT).unwrap(); // the worker is busy
        assert!(pool.try_execute(|| {}).is_ok(), "one job fits in the queue");
        assert!(
            pool.try_reserve().is_none(),
            "a second waiting job must be refused"
        );
        release_tx.send(()).unwrap();
        // Once the worker is free again, places come back.
        let deadline = std::time::Instant::now() + LIMIT;
        while pool.try_reserve().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "places never came back"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_unused_reservation_gives_its_place_back() {
        let pool = ThreadPool::new(1, 0).unwrap();
        let place = pool.try_reserve().expect("an idle pool has a place");
        assert!(pool.try_reserve().is_none());
        drop(place);
        assert!(pool.try_reserve().is_some());
    }

    #[test]
    fn a_panicking_job_does_not_lose_its_worker() {
        let pool = ThreadPool::new(1, 10).unwrap();
        pool.try_execute(|| panic!("job panics on purpose (expected in this test)"))
            .unwrap_or_else(|_| panic!("refused"));
        let (tx, rx) = channel();
        pool.try_execute(move || tx.send("still working").unwrap())
            .unwrap_or_else(|_| panic!("refused"));
        assert_eq!(rx.recv_timeout(LIMIT).unwrap(), "still working");
    }

    #[test]
    fn drop_runs_the_queued_jobs_then_joins_the_workers() {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = ThreadPool::new(2, 20).unwrap();
        for _ in 0..20 {
            let ran = ran.clone();
            pool.try_execute(move || {
                thread::sleep(Duration::from_millis(2));
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap_or_else(|_| panic!("refused"));
        }
        drop(pool); // returns only when the workers have finished
        assert_eq!(ran.load(Ordering::SeqCst), 20);
    }
}
