"""The demo workflow: greet a few people concurrently and count the greetings."""

from flowyard import flow, get_logger, task


@task(retries=1, retry_delay_seconds=1)
def greet(name: str, day: str) -> str:
    """Say hello to one person."""
    message = f"Hello {name}, today is {day}!"
    get_logger().info(message)
    return message


@task
def count(greetings: list[str]) -> int:
    """Count the greetings that were said."""
    get_logger().info("%d greetings sent", len(greetings))
    return len(greetings)


@flow(name="hello")
def hello(day: str, names: list[str]) -> int:
    """Greet everyone, then count."""
    futures = greet.map(names, day=day)
    return count(futures)  # futures as arguments: count waits for them and gets their results
