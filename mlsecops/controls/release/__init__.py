"""Release controls: signed approvals bound to one model digest and one evidence set (`approvals`)."""
