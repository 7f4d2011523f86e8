-- How much feedback each presigned token has recorded: a token records at most
-- limits.feedback_token_submissions, so a leaked token cannot flood a run with feedback.
ALTER TABLE feedback_tokens ADD COLUMN submissions INTEGER NOT NULL DEFAULT 0;
