def main():
    raise SystemExit("rdagen: not yet")
