"""Tests of the Textual app: Pilot, snapshots, a real terminal."""
