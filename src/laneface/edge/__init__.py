"""The lane edge: store-and-forward of crossing records from a lane to the central records service.

::

    cameras (RTSP / video files) ──JPEG frames──> CameraHub ring buffers
    trigger (stdin / HTTP / auto segmentation) ──cut──> Spool (passage directory on disk, fsynced)
    Spool ──LanePipeline──> request body ──put (durable: the acknowledgement)──> Outbox (SQLite WAL)
    Outbox ──Deliverer (retries, backoff with jitter, idempotency key)──> POST /v1/passages

Nothing is imported here: the modules load their heavy dependencies (cv2, httpx) inside functions.
"""
