.PHONY: guests
guests:
