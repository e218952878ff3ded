"""The API's routes, one APIRouter per resource; `create_app` (server/app.py) includes them in the order of the
OpenAPI document: health, models, datasets, recipes, images, runs, jobs, events, atlases, results."""
