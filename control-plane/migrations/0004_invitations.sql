-- Invitations into a project. Inviting by email answers the same whether or not an account
-- has that address; the account holder accepts (or declines) after signing in.
CREATE TABLE project_invitations (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email      text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    UNIQUE (project_id, email)
);
CREATE INDEX project_invitations_email ON project_invitations (email);
