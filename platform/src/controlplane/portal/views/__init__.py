"""Portal pages, one module per area; every read goes through the selectors, which take the signed-in user, so another
team's object is a 404 here as in the API, and every button is checked again server-side by the services."""
