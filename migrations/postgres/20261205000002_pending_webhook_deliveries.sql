-- The worker looks for pending deliveries left behind (their task never queued, or lost) by
-- how long they have gone untouched.
CREATE INDEX prompt_webhook_deliveries_pending ON prompt_webhook_deliveries (updated_at)
    WHERE status = 'pending';
