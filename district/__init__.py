"""The district's reference data, read by every service from `deploy/directory.yaml`: places
(street → community → compound → building), units with their contacts and supervisors,
categories with their keywords and extra questions, the four tiers, and Beijing time; and
the time limits (`deploy/policies.yaml`) with the working calendar they count in, read by
dispatch and escalation.

Domain facts every service shares, not plumbing: `shared/` stays free of them."""
