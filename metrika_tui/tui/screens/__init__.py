"""The console's screens: main (table, details, log), failed jobs, help, confirmation."""
