"""The citizen's server-rendered booking flow (works without JavaScript); the top page (`top`)."""
