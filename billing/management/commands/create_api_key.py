from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import services


class Command(BaseCommand):
    help = "Create an API key for USERNAME (creating the user if needed) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--credits", default="0", help="credits to grant through the ledger")
        parser.add_argument("--name", default="cli", help="a label for the key")

    def handle(self, *args: object, username: str, credits: str, name: str, **options: object) -> None:
        try:
            amount = Decimal(credits)
        except InvalidOperation:
            raise CommandError("--credits must be a number") from None
        if amount < 0:
            raise CommandError("--credits must not be negative")
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
        key, raw = services.api_key_issue(user=user, name=name)
        if amount > 0:
            services.credits_grant(user=user, amount=amount, key=f"cli-grant:{key.prefix}", note="create_api_key",
                                   by="manage.py")
        self.stdout.write(raw)
        self.stderr.write(f"user {username}: {services.credit_balance(user=user)} credits")
