from rest_framework.exceptions import PermissionDenied


def org_scope(request):
    member = getattr(request.user, "member", None)
    if member is None:
        raise PermissionDenied("This user belongs to no organisation.")
    return {"org": member.org}


def database_for_user(request):
    return "other" if request.user.username.startswith("other") else "default"


def users_of_org(queryset, scope, request):
    """The users a record of the request's org may name: members of that org."""
    return queryset.filter(member__org=scope["org"])
