"""Listing images: filters, sorting, and limit/marker paging with the `next` link."""
import os

from test_image_cli import api, create_raw, token, unique


def upload(cloud, tok, image_id, size):
    status, _, body = api(cloud, "PUT", f"/v2/images/{image_id}/file", tok, raw=os.urandom(size),
                          content_type="application/octet-stream")
    assert status == 204, (status, body)


def list_all(cloud, tok, query):
    """Follows `next` links to the end; returns every image and how many pages it took."""
    images, pages, path = [], 0, f"/v2/images?{query}"
    while path:
        status, _, body = api(cloud, "GET", path, tok)
        assert status == 200, (status, body)
        images.extend(body["images"])
        pages += 1
        assert pages < 50, "paging does not end"
        path = body.get("next")
    return images, pages


def test_filters_sorting_and_paging(cloud):
    tok = token(cloud)
    tag = unique("batch")
    made = []
    for i, size in enumerate([1000, 3000, 2000, 5000, 4000]):
        img = create_raw(cloud, tok, name=f"{tag}-{i}", tags=[tag], min_ram=i)
        upload(cloud, tok, img["id"], size)
        made.append(img["id"])

    # Paging: 2 per page over 5 images is 3 pages, every image once, in the default order
    # (newest first).
    images, pages = list_all(cloud, tok, f"tag={tag}&limit=2")
    assert pages == 3
    assert [i["id"] for i in images] == list(reversed(made))

    # Sorting, both syntaxes.
    by_size = [i["size"] for i in list_all(cloud, tok, f"tag={tag}&sort=size:asc&limit=2")[0]]
    assert by_size == [1000, 2000, 3000, 4000, 5000]
    by_name = [i["name"] for i in list_all(cloud, tok, f"tag={tag}&sort_key=name&sort_dir=desc")[0]]
    assert by_name == sorted(by_name, reverse=True) and len(by_name) == 5

    # Filters.
    mid = list_all(cloud, tok, f"tag={tag}&size_min=2000&size_max=4000")[0]
    assert sorted(i["size"] for i in mid) == [2000, 3000, 4000]
    assert [i["name"] for i in list_all(cloud, tok, f"name={tag}-3")[0]] == [f"{tag}-3"]
    status, _, first = api(cloud, "GET", f"/v2/images/{made[0]}", tok)
    later = list_all(cloud, tok, f"tag={tag}&created_at=gte:{first['created_at']}")[0]
    assert len(later) == 5
    assert list_all(cloud, tok, f"tag={tag}&created_at=lt:2000-01-01T00:00:00Z")[0] == []
    assert len(list_all(cloud, tok, f"tag={tag}&status=active&disk_format=raw")[0]) == 5

    # The CLI pages through by itself.
    names = {i["Name"] for i in cloud.osc("image", "list", "--tag", tag, "--limit", "2", "-f", "json")}
    assert len(names) >= 2


def test_bad_list_queries(cloud):
    tok = token(cloud)
    for query in ["sort_key=nonsense", "sort_dir=sideways&sort_key=name", "limit=-1", "size_min=big",
                  "created_at=gt:yesterday", "visibility=everyone", "marker=no-such-image"]:
        status, _, body = api(cloud, "GET", f"/v2/images?{query}", tok)
        assert status == 400, (query, status, body)
        assert body["message"], body
