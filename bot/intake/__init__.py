"""The doors' reliable intake: an update a door acknowledges before it is worked is recorded
on arrival, claimed by this worker, and taken over by another one if this one dies."""
